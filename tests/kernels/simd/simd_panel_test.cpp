// The panel layout (kernels/panel_layout.h) and the kernels that read it: packing round-trips
// byte for byte, and on every level with panel kernels the panel products equal the same
// level's row-layout products bit for bit (so repacking a model at load changes no logit), for
// every token count and for row sub-ranges.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

const TensorType kPanelFormats[] = {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0};


TEST(PanelLayout, ShapesThatQualify) {
  EXPECT_TRUE(can_use_panels(TensorType::Q4_0, 32, 64));
  EXPECT_TRUE(can_use_panels(TensorType::Q8_0, 16, 32));
  EXPECT_TRUE(can_use_panels(TensorType::Q5_0, 16, 896));
  EXPECT_FALSE(can_use_panels(TensorType::Q5_1, 16, 64));  // no panel layout
  EXPECT_FALSE(can_use_panels(TensorType::Q4_0, 40, 64));  // not whole panels
  EXPECT_FALSE(can_use_panels(TensorType::Q5_K, 32, 256));  // no panel layout
  EXPECT_FALSE(can_use_panels(TensorType::F32, 32, 64));
  EXPECT_THROW(pack_panels(TensorType::Q5_K, nullptr, 256, 0, 0, nullptr), Error);  // Q6_K: its own test
}

TEST(PanelLayout, PackThenUnpackGivesTheRowsBack) {
  std::mt19937 rng(7);
  for (TensorType t : kPanelFormats) {
    const int64_t rows = 48, cols = 224;  // 7 blocks a row
    const auto w = random_weights(t, rows, cols, rng);
    const auto p = packed(t, w, rows, cols);
    EXPECT_NE(p, w) << type_name(t);  // the layout does move bytes
    const size_t stride = row_bytes(t, cols);
    std::vector<uint8_t> row(stride);
    for (int64_t r = 0; r < rows; ++r) {
      unpack_panel_row(t, p.data(), cols, r, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), w.data() + r * stride, stride)) << type_name(t) << " row " << r;
    }
    // dequantize_weight_row reads either layout alike.
    const WeightMatrix rows_w{t, rows, cols, w.data()};
    const WeightMatrix panel_w{t, rows, cols, p.data(), true};
    std::vector<float> a(cols), b(cols);
    for (int64_t r : {0, 17, 47}) {
      dequantize_weight_row(rows_w, r, a.data());
      dequantize_weight_row(panel_w, r, b.data());
      EXPECT_EQ(a, b) << type_name(t) << " row " << r;
    }
  }
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Every level with panel kernels: token counts 1..20 and 130 (past the 4-token groups and the
// row kernels' tiles), row ranges of 4, 2 and 3 panels (pairs of panels, and one left over),
// block counts that are and are not multiples of four; results compared with the level's row-layout matvec (one token at a time).
TEST(PanelKernels, MatchRowLayoutBitForBit) {
  std::mt19937 rng(99);
  int levels = 0;
  for (const KernelSet* ks : usable_sets())
    for (TensorType t : kPanelFormats) {
      if (!ks->has_panel_kernels(t)) continue;
      ++levels;
      for (const int64_t cols : {int64_t{224}, int64_t{512}, int64_t{896}}) {
        const int64_t rows = 64;
        const auto w = random_weights(t, rows, cols, rng);
        const auto p = packed(t, w, rows, cols);
        const size_t stride = row_bytes(t, cols), xs = act_row_bytes(t, cols);
        constexpr int64_t kMax = 130;
        const std::vector<float> x = random_acts(kMax * cols, rng);
        std::vector<uint8_t> xq(xs * kMax);
        for (int64_t i = 0; i < kMax; ++i) ks->quantize_activations(t, &x[i * cols], cols, &xq[i * xs]);
        std::vector<float> ref(static_cast<size_t>(kMax * rows));
        for (int64_t i = 0; i < kMax; ++i) ks->matvec(t, w.data(), stride, 0, rows, cols, &xq[i * xs], &ref[i * rows]);
        for (const int64_t n : panel_token_counts(kMax))
          for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, rows}, {16, 48}, {0, 48}}) {
            const int64_t first = n == kMax ? 0 : 3;  // tokens [first, first + n)
            std::vector<float> y(static_cast<size_t>(n * rows), -1.0f);
            ks->panel_matmul(t, p.data(), stride, r0, r1, cols, &xq[first * xs], xs, n, y.data(), rows);
            for (int64_t i = 0; i < n; ++i)
              ASSERT_TRUE(same_bits(&y[i * rows + r0], &ref[(first + i) * rows + r0], r1 - r0))
                  << isa_name(ks->isa) << " " << type_name(t) << " cols " << cols << " n_tokens " << n << " rows ["
                  << r0 << ", " << r1 << ") token " << i;
          }
      }
    }
  if (levels == 0) GTEST_SKIP() << "no level on this CPU has panel kernels";
}

// The same through kernels::matmul (the active level, 1 and 2 threads) against the reference
// product of the dequantized weights: the panel path is a correct product, not only a
// consistent one. Tolerance: 8-bit activations give ~1% relative error per element.
TEST(PanelKernels, MatmulMatchesReference) {
  std::mt19937 rng(5);
  for (TensorType t : kPanelFormats) {
    const int64_t rows = 96, cols = 512, n = 9;
    const auto w = random_weights(t, rows, cols, rng);
    const auto p = packed(t, w, rows, cols);
    const WeightMatrix rows_w{t, rows, cols, w.data()};
    const WeightMatrix panel_w{t, rows, cols, p.data(), active().has_panel_kernels(t)};
    if (!panel_w.panels) GTEST_SKIP() << "the active level has no panel kernels";
    const std::vector<float> x = random_acts(n * cols, rng);
    for (int threads : {1, 2}) {
      runtime::ThreadPool pool(threads);
      std::vector<float> ref(static_cast<size_t>(n * rows)), row_y(ref.size()), panel_y(ref.size());
      matmul_reference(rows_w, x.data(), n, ref.data(), pool);
      matmul(rows_w, x.data(), n, row_y.data(), pool);
      matmul(panel_w, x.data(), n, panel_y.data(), pool);
      EXPECT_TRUE(same_bits(row_y.data(), panel_y.data(), row_y.size())) << type_name(t) << " threads " << threads;
      double max_ref = 0, max_err = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        max_ref = std::max(max_ref, std::abs(static_cast<double>(ref[i])));
        max_err = std::max(max_err, std::abs(static_cast<double>(panel_y[i]) - ref[i]));
      }
      EXPECT_LT(max_err, 0.02 * max_ref) << type_name(t);
    }
  }
}

// Q4_0, Q5_0 and Q8_0 run in one arithmetic on every x86 level (the VNNI level's chains; the other
// levels in x86_legacy_chain-inl.h): row-layout matvec and matmul of avx2, avxvnni and avx512
// equal avx512vnni's bit for bit, for row counts off the 4-row tiles and block counts off the
// 4 chains, with random quant bytes (Q8_0's -128 among them) and with every byte 0xff.
TEST(PanelKernels, LegacyFormatsSameBitsOnEveryX86Level) {
  const KernelSet* vnni = for_isa(Isa::Avx512Vnni);
  if (vnni == nullptr) GTEST_SKIP() << "no AVX-512 VNNI level on this CPU";
  std::mt19937 rng(31);
  int compared = 0;
  for (const Isa isa : {Isa::Avx2, Isa::AvxVnni, Isa::Avx512}) {
    const KernelSet* ks = for_isa(isa);
    if (ks == nullptr) continue;
    ++compared;
    for (const TensorType t : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0})
      for (const int pattern : {0, 1})
        for (const int64_t cols : {int64_t{32}, int64_t{224}, int64_t{2048}}) {
          const int64_t rows = 23, n = 7;
          const auto w = random_weights(t, rows, cols, rng, pattern);
          const size_t stride = row_bytes(t, cols), xs = act_row_bytes(t, cols);
          std::vector<float> x = random_acts(n * cols, rng);
          if (pattern == 1) {  // tokens 0 and 1 at the int8 extremes: the int16 sums' worst case
            std::fill(x.begin(), x.begin() + cols, 1.0f);
            std::fill(x.begin() + cols, x.begin() + 2 * cols, -1.0f);
          }
          std::vector<uint8_t> xq(xs * n);
          for (int64_t i = 0; i < n; ++i) vnni->quantize_activations(t, &x[i * cols], cols, &xq[i * xs]);
          std::vector<float> want(static_cast<size_t>(n * rows)), got(want.size(), -1.0f), one(rows, -1.0f);
          vnni->matmul(t, w.data(), stride, 0, rows, cols, xq.data(), xs, n, want.data(), rows);
          ks->matmul(t, w.data(), stride, 0, rows, cols, xq.data(), xs, n, got.data(), rows);
          // The panels too, at the extremes and all tokens.
          if (ks->has_panel_kernels(t) && rows >= kPanelRows) {
            const int64_t prow = rows / kPanelRows * kPanelRows;
            const auto p = packed(t, w, prow, cols);
            std::vector<float> py(static_cast<size_t>(n * rows), -1.0f);
            ks->panel_matmul(t, p.data(), stride, 0, prow, cols, xq.data(), xs, n, py.data(), rows);
            for (int64_t i = 0; i < n; ++i)
              EXPECT_TRUE(same_bits(&want[i * rows], &py[i * rows], prow)) << isa_name(isa) << " " << type_name(t)
                                                                            << " panels, token " << i << " cols " << cols;
            const std::vector<float> one_token = std::vector<float>(py.begin(), py.begin() + prow);
            ks->panel_matmul(t, p.data(), stride, 0, prow, cols, xq.data(), xs, 1, py.data(), rows);
            EXPECT_TRUE(same_bits(one_token.data(), py.data(), prow)) << isa_name(isa) << " " << type_name(t);
          }
          const std::string what = std::string(isa_name(isa)) + " " + std::string(type_name(t)) + " pattern " +
                                   std::to_string(pattern) + " cols " + std::to_string(cols);
          EXPECT_TRUE(same_bits(want.data(), got.data(), want.size())) << what << " matmul";
          ks->matvec(t, w.data(), stride, 0, rows, cols, &xq[xs], one.data());
          EXPECT_TRUE(same_bits(&want[rows], one.data(), rows)) << what << " matvec";
        }
  }
  if (compared == 0) GTEST_SKIP() << "no level without VNNI compiled in";
}

TEST(PanelKernels, RejectsRangesThatSplitAPanel) {
  const KernelSet& ks = active();
  if (!ks.has_panel_kernels(TensorType::Q8_0)) GTEST_SKIP() << "the active level has no panel kernels";
  std::vector<uint8_t> w(row_bytes(TensorType::Q8_0, 32) * 32), xq(act_row_bytes(TensorType::Q8_0, 32));
  std::vector<float> y(32);
  const size_t stride = row_bytes(TensorType::Q8_0, 32);
  EXPECT_THROW(ks.panel_matmul(TensorType::Q8_0, w.data(), stride, 8, 32, 32, xq.data(), 0, 1, y.data(), 0), Error);
  EXPECT_THROW(ks.panel_matmul(TensorType::Q8_0, w.data(), stride + 2, 0, 16, 32, xq.data(), 0, 1, y.data(), 0), Error);
  EXPECT_THROW(ks.panel_matmul(TensorType::Q5_K, w.data(), stride, 0, 16, 256, xq.data(), 0, 1, y.data(), 0), Error);
}

}  // namespace
}  // namespace edgellm::kernels::test
