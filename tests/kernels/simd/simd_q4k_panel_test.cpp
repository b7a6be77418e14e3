// The Q4_K panel layout (kernels/panel_layout.h) and its kernel: packing round-trips byte for
// byte; the panel product matches the exact product of the dequantized weights and activations
// within the float-summation bound of simd_test_util.h (it is not bit-identical to the row-layout
// kernel, which sums in another order); and it is batch invariant: token t's outputs are the
// same bits alone or in a call of n tokens, whatever its group, and for any panel range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

constexpr TensorType kQ4K = TensorType::Q4_K;


TEST(Q4KPanelLayout, Qualifies) {
  EXPECT_TRUE(has_panel_layout(kQ4K));
  EXPECT_TRUE(can_use_panels(kQ4K, 32, 256));
  EXPECT_TRUE(can_use_panels(kQ4K, 16, 4864));
  EXPECT_FALSE(can_use_panels(kQ4K, 32, 224));  // not whole super-blocks
  EXPECT_FALSE(can_use_panels(kQ4K, 40, 256));  // not whole panels
}

// Every byte random (scales, mins, d and dmin included): the 12 scale bytes are a bijective
// packing of the 16 six-bit values, so any bytes must come back.
TEST(Q4KPanelLayout, PackThenUnpackGivesTheRowsBack) {
  std::mt19937 rng(11);
  for (const int64_t cols : {int64_t{256}, int64_t{2304}}) {
    const int64_t rows = 48;
    const size_t stride = row_bytes(kQ4K, cols);
    std::vector<uint8_t> w(stride * rows);
    for (auto& b : w) b = static_cast<uint8_t>(rng());
    const auto p = packed(kQ4K, w, rows, cols);
    EXPECT_NE(p, w);
    std::vector<uint8_t> row(stride);
    for (int64_t r = 0; r < rows; ++r) {
      unpack_panel_row(kQ4K, p.data(), cols, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), w.data() + r * stride, stride)) << "cols " << cols << " row " << r;
    }
    // Packing a panel sub-range writes exactly those panels' bytes.
    std::vector<uint8_t> part(w.size(), 0);
    pack_panels(kQ4K, w.data(), cols, 1, 2, part.data());
    const size_t panel = stride * kPanelRows;
    EXPECT_EQ(0, std::memcmp(part.data() + panel, p.data() + panel, panel));
    EXPECT_TRUE(std::all_of(part.begin(), part.begin() + panel, [](uint8_t b) { return b == 0; }));
  }
  // dequantize_weight_row reads either layout alike.
  const int64_t rows = 32, cols = 512;
  const auto w = random_weights(kQ4K, rows, cols, rng);
  const auto p = packed(kQ4K, w, rows, cols);
  const WeightMatrix rows_w{kQ4K, rows, cols, w.data()};
  const WeightMatrix panel_w{kQ4K, rows, cols, p.data(), true};
  std::vector<float> a(cols), b(cols);
  for (int64_t r : {0, 17, 31}) {
    dequantize_weight_row(rows_w, r, a.data());
    dequantize_weight_row(panel_w, r, b.data());
    EXPECT_EQ(a, b) << "row " << r;
  }
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Activations whose Q8_K quants are all -127 or +127 (with the all-0xff weights: every scale,
// min and quant at its largest), the extremes of the int32 bound in x86_q4k_panel-inl.h.
std::vector<float> extreme_acts(int64_t n, float sign) { return std::vector<float>(static_cast<size_t>(n), sign); }

// Every level with Q4_K panel kernels: token counts 1..20 and 130, column counts of 1, 2, 9 and
// 19 super-blocks, row ranges starting at panel 0 and 1. Each output within the bound of two
// float summation orders (tolerance()) of the exact product of the dequantized operands; and
// each bit-identical to the same token computed alone over all rows (batch invariance).
TEST(Q4KPanelKernels, MatchReferenceAndAreBatchInvariant) {
  std::mt19937 rng(2024);
  int levels = 0;
  for (const KernelSet* ks : usable_sets()) {
    if (!ks->has_panel_kernels(kQ4K)) continue;
    ++levels;
    for (const int64_t cols : {int64_t{256}, int64_t{512}, int64_t{2304}, int64_t{4864}})
      for (const int pattern : {0, 1}) {
        const int64_t rows = 64;
        constexpr int64_t kMax = 130;
        const auto w = random_weights(kQ4K, rows, cols, rng, pattern);
        const auto p = packed(kQ4K, w, rows, cols);
        const size_t stride = row_bytes(kQ4K, cols), xs = act_row_bytes(kQ4K, cols);
        std::vector<float> x = random_acts(kMax * cols, rng);
        if (pattern == 1) {  // two tokens at the extremes
          const auto lo = extreme_acts(cols, -1.0f), hi = extreme_acts(cols, 1.0f);
          std::copy(lo.begin(), lo.end(), x.begin() + 5 * cols);
          std::copy(hi.begin(), hi.end(), x.begin() + 6 * cols);
        }
        std::vector<uint8_t> xq(xs * kMax);
        for (int64_t i = 0; i < kMax; ++i) ks->quantize_activations(kQ4K, &x[i * cols], cols, &xq[i * xs]);
        // Each token alone, all rows: checked against the reference, then the batch baseline.
        std::vector<float> alone(static_cast<size_t>(kMax * rows));
        for (int64_t i = 0; i < kMax; ++i) {
          ks->panel_matmul(kQ4K, p.data(), stride, 0, rows, cols, &xq[i * xs], xs, 1, &alone[i * rows], rows);
          const auto xd = dequant_acts(kQ4K, &xq[i * xs], cols);
          for (int64_t r = 0; r < rows; ++r) {
            const Reference ref = reference_dot(kQ4K, w.data() + r * stride, xd);
            ASSERT_NEAR(alone[i * rows + r], ref.value, tolerance(kQ4K, cols, ref.magnitude))
                << isa_name(ks->isa) << " cols " << cols << " pattern " << pattern << " token " << i << " row " << r;
          }
        }
        for (const int64_t n : panel_token_counts(kMax))
          for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, rows}, {16, 48}}) {
            const int64_t first = n == kMax ? 0 : 3;  // tokens [first, first + n)
            std::vector<float> y(static_cast<size_t>(n * rows), -1.0f);
            ks->panel_matmul(kQ4K, p.data(), stride, r0, r1, cols, &xq[first * xs], xs, n, y.data(), rows);
            for (int64_t i = 0; i < n; ++i) {
              ASSERT_TRUE(same_bits(&y[i * rows + r0], &alone[(first + i) * rows + r0], r1 - r0))
                  << isa_name(ks->isa) << " cols " << cols << " n_tokens " << n << " rows [" << r0 << ", " << r1
                  << ") token " << i;
              if (r0 > 0) {
                ASSERT_EQ(y[i * rows], -1.0f) << "a row outside the range was written";
              }
            }
          }
      }
  }
  if (levels == 0) GTEST_SKIP() << "no level on this CPU has Q4_K panel kernels";
}

// The avx2 / avxvnni levels' Q4_K panels (x86_q4k_panel_ymm-inl.h) compute the AVX-512 VNNI panel
// kernel's sums: the same bits for 1 and 7 tokens, random and extreme operands.
TEST(Q4KPanelKernels, SameBitsOnEveryX86Level) {
  const KernelSet* vnni = for_isa(Isa::Avx512Vnni);
  if (vnni == nullptr || !vnni->has_panel_kernels(kQ4K)) GTEST_SKIP() << "no AVX-512 VNNI level on this CPU";
  std::mt19937 rng(77);
  int compared = 0;
  for (const Isa isa : {Isa::Avx2, Isa::AvxVnni, Isa::Avx512}) {
    const KernelSet* ks = for_isa(isa);
    if (ks == nullptr || !ks->has_panel_kernels(kQ4K)) continue;
    ++compared;
    for (const int64_t cols : {int64_t{256}, int64_t{2304}})
      for (const int pattern : {0, 1}) {
        const int64_t rows = 32, n = 7;
        const auto w = random_weights(kQ4K, rows, cols, rng, pattern);
        const auto p = packed(kQ4K, w, rows, cols);
        const size_t stride = row_bytes(kQ4K, cols), xs = act_row_bytes(kQ4K, cols);
        std::vector<float> x = random_acts(n * cols, rng);
        if (pattern == 1) {
          const auto lo = extreme_acts(cols, -1.0f), hi = extreme_acts(cols, 1.0f);
          std::copy(lo.begin(), lo.end(), x.begin());
          std::copy(hi.begin(), hi.end(), x.begin() + cols);
        }
        std::vector<uint8_t> xq(xs * n);
        for (int64_t i = 0; i < n; ++i) vnni->quantize_activations(kQ4K, &x[i * cols], cols, &xq[i * xs]);
        for (const int64_t tokens : {int64_t{1}, n}) {
          std::vector<float> want(static_cast<size_t>(tokens * rows)), got(want.size(), -1.0f);
          vnni->panel_matmul(kQ4K, p.data(), stride, 0, rows, cols, xq.data(), xs, tokens, want.data(), rows);
          ks->panel_matmul(kQ4K, p.data(), stride, 0, rows, cols, xq.data(), xs, tokens, got.data(), rows);
          EXPECT_TRUE(same_bits(want.data(), got.data(), want.size()))
              << isa_name(isa) << " cols " << cols << " pattern " << pattern << " tokens " << tokens;
        }
      }
  }
  if (compared == 0) GTEST_SKIP() << "no level without AVX-512 has Q4_K panels here";
}

// Through kernels::matmul (the active level, 1 and 2 threads): panels against the row layout
// and the reference product; 8-bit activations give ~1% relative error per element.
TEST(Q4KPanelKernels, MatmulMatchesRowLayout) {
  if (!active().has_panel_kernels(kQ4K)) GTEST_SKIP() << "the active level has no Q4_K panel kernels";
  std::mt19937 rng(5);
  const int64_t rows = 96, cols = 1024, n = 9;
  const auto w = random_weights(kQ4K, rows, cols, rng);
  const auto p = packed(kQ4K, w, rows, cols);
  const WeightMatrix rows_w{kQ4K, rows, cols, w.data()};
  const WeightMatrix panel_w{kQ4K, rows, cols, p.data(), true};
  const std::vector<float> x = random_acts(n * cols, rng);
  std::vector<float> first;
  for (int threads : {1, 2}) {
    runtime::ThreadPool pool(threads);
    std::vector<float> ref(static_cast<size_t>(n * rows)), row_y(ref.size()), panel_y(ref.size());
    matmul_reference(rows_w, x.data(), n, ref.data(), pool);
    matmul(rows_w, x.data(), n, row_y.data(), pool);
    matmul(panel_w, x.data(), n, panel_y.data(), pool);
    if (first.empty()) first = panel_y;
    EXPECT_TRUE(same_bits(first.data(), panel_y.data(), first.size())) << "threads " << threads;
    double max_ref = 0, max_err = 0, max_diff = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      max_ref = std::max(max_ref, std::abs(static_cast<double>(ref[i])));
      max_err = std::max(max_err, std::abs(static_cast<double>(panel_y[i]) - ref[i]));
      max_diff = std::max(max_diff, std::abs(static_cast<double>(panel_y[i]) - row_y[i]));
    }
    EXPECT_LT(max_err, 0.02 * max_ref);
    EXPECT_LT(max_diff, 1e-5 * max_ref);  // the same integer sums, only the float order differs
  }
}

}  // namespace
}  // namespace edgellm::kernels::test
