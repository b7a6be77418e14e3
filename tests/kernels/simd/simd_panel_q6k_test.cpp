// The Q6_K panel layout (kernels/panel_layout.h) and its kernel: packing round-trips byte for
// byte and stays inside each panel's own bytes; the panel products equal the exact product of
// the dequantized weights and activations within the f32 rounding bound, for every token count,
// column count and row range; and they are batch-invariant (a token's outputs are the same bits
// alone or in a call of any size, in any row range).
//
// Unlike Q4_0 / Q5_0 / Q8_0, the Q6_K panels need not match the row-layout kernel bit for bit
// (that one sums its f32 terms in 8 lanes): both are held to the same bound from the exact value.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/kernels.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

constexpr TensorType kQ6 = TensorType::Q6_K;


TEST(PanelLayoutQ6K, ShapesThatQualify) {
  EXPECT_TRUE(has_panel_layout(kQ6));
  EXPECT_TRUE(can_use_panels(kQ6, 32, 256));
  EXPECT_TRUE(can_use_panels(kQ6, 16, 4864));
  EXPECT_FALSE(can_use_panels(kQ6, 16, 896));  // not whole super-blocks
  EXPECT_FALSE(can_use_panels(kQ6, 40, 256));  // not whole panels
}

TEST(PanelLayoutQ6K, PackThenUnpackGivesTheRowsBack) {
  std::mt19937 rng(7);
  for (const int64_t cols : {int64_t{256}, int64_t{768}}) {
    for (int pattern : {0, 1}) {
      const int64_t rows = 48;
      const auto w = random_weights(kQ6, rows, cols, rng, pattern);
      const auto p = packed(kQ6, w, rows, cols);
      if (pattern == 0) {
        EXPECT_NE(p, w);  // the layout does move bytes
      }
      const size_t stride = row_bytes(kQ6, cols);
      std::vector<uint8_t> row(stride);
      for (int64_t r = 0; r < rows; ++r) {
        unpack_panel_row(kQ6, p.data(), cols, r, row.data());
        ASSERT_EQ(0, std::memcmp(row.data(), w.data() + r * stride, stride)) << "cols " << cols << " row " << r;
      }
      const WeightMatrix rows_w{kQ6, rows, cols, w.data()};
      const WeightMatrix panel_w{kQ6, rows, cols, p.data(), true};
      std::vector<float> a(cols), b(cols);
      for (int64_t r : {0, 17, 47}) {
        dequantize_weight_row(rows_w, r, a.data());
        dequantize_weight_row(panel_w, r, b.data());
        EXPECT_EQ(a, b) << "row " << r;
      }
    }
  }
}

// Panel p occupies exactly the bytes of its 16 rows: packing panels [1, 2) writes only those.
TEST(PanelLayoutQ6K, APanelStaysInItsRowsBytes) {
  std::mt19937 rng(8);
  const int64_t rows = 48, cols = 512;
  const auto w = random_weights(kQ6, rows, cols, rng);
  const size_t panel_bytes = kPanelRows * row_bytes(kQ6, cols);
  std::vector<uint8_t> out(w.size(), 0xa5);
  pack_panels(kQ6, w.data(), cols, 1, 2, out.data());
  for (size_t i = 0; i < out.size(); ++i) {
    if (i < panel_bytes || i >= 2 * panel_bytes) {
      ASSERT_EQ(out[i], 0xa5) << "byte " << i;
    }
  }
  const auto all = packed(kQ6, w, rows, cols);
  EXPECT_EQ(0, std::memcmp(out.data() + panel_bytes, all.data() + panel_bytes, panel_bytes));
}

// The exact product in double of the dequantized weights and activations, and the magnitude
// bounding every partial sum (simd_test_util.h).
struct Exact {
  std::vector<double> value, magnitude;  // [token * rows + row]
};

Exact exact_products(const std::vector<uint8_t>& w, int64_t rows, int64_t cols, const std::vector<uint8_t>& xq,
                     size_t xs, int64_t n) {
  Exact e;
  e.value.resize(static_cast<size_t>(n * rows));
  e.magnitude.resize(e.value.size());
  const size_t stride = row_bytes(kQ6, cols);
  for (int64_t t = 0; t < n; ++t) {
    const std::vector<float> x = dequant_acts(kQ6, &xq[t * xs], cols);
    for (int64_t r = 0; r < rows; ++r) {
      const Reference ref = reference_dot(kQ6, &w[r * stride], x);
      e.value[t * rows + r] = ref.value;
      e.magnitude[t * rows + r] = ref.magnitude;
    }
  }
  return e;
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Every level with Q6_K panel kernels: token counts 1..20 and 130 (past the 4-token groups),
// row ranges that start at a nonzero panel, 1..19 super-blocks a row. Tolerance: the integer
// sums are exact, so only the f32 steps round (the conversion of the sum, d * d_x and one
// multiply-add per super-block): simd_test_util.h's bound for two summation orders.
TEST(PanelKernelsQ6K, MatchTheExactProductAndAreBatchInvariant) {
  std::mt19937 rng(99);
  int levels = 0;
  for (const KernelSet* ks : usable_sets()) {
    if (!ks->has_panel_kernels(kQ6)) continue;
    ++levels;
    for (const int64_t cols : {int64_t{256}, int64_t{512}, int64_t{2304}, int64_t{4864}}) {
      const int64_t rows = 64;
      const auto w = random_weights(kQ6, rows, cols, rng);
      const auto p = packed(kQ6, w, rows, cols);
      const size_t stride = row_bytes(kQ6, cols), xs = act_row_bytes(kQ6, cols);
      constexpr int64_t kMax = 130;
      const std::vector<float> x = random_acts(kMax * cols, rng);
      std::vector<uint8_t> xq(xs * kMax);
      for (int64_t i = 0; i < kMax; ++i) ks->quantize_activations(kQ6, &x[i * cols], cols, &xq[i * xs]);
      const Exact exact = exact_products(w, rows, cols, xq, xs, kMax);
      // Each token alone (the decode matvec), checked against the exact value and the row kernel.
      std::vector<float> alone(static_cast<size_t>(kMax * rows)), row_y(alone.size());
      for (int64_t i = 0; i < kMax; ++i) {
        ks->panel_matmul(kQ6, p.data(), stride, 0, rows, cols, &xq[i * xs], xs, 1, &alone[i * rows], rows);
        ks->matvec(kQ6, w.data(), stride, 0, rows, cols, &xq[i * xs], &row_y[i * rows]);
      }
      for (size_t i = 0; i < alone.size(); ++i) {
        const double tol = tolerance(kQ6, cols, exact.magnitude[i]);
        ASSERT_NEAR(alone[i], exact.value[i], tol) << isa_name(ks->isa) << " cols " << cols << " output " << i;
        ASSERT_NEAR(row_y[i], exact.value[i], tol) << isa_name(ks->isa) << " row kernel, cols " << cols;
      }
      for (const int64_t n : panel_token_counts(kMax))
        for (const auto& [r0, r1] : {std::pair<int64_t, int64_t>{0, rows}, {16, 48}, {48, 64}}) {
          const int64_t first = n == kMax ? 0 : 3;  // tokens [first, first + n)
          std::vector<float> y(static_cast<size_t>(n * rows), -1.0f);
          ks->panel_matmul(kQ6, p.data(), stride, r0, r1, cols, &xq[first * xs], xs, n, y.data(), rows);
          for (int64_t i = 0; i < n; ++i)
            ASSERT_TRUE(same_bits(&y[i * rows + r0], &alone[(first + i) * rows + r0], r1 - r0))
                << isa_name(ks->isa) << " cols " << cols << " n_tokens " << n << " rows [" << r0 << ", " << r1
                << ") token " << i;
        }
    }
  }
  if (levels == 0) GTEST_SKIP() << "no level on this CPU has Q6_K panel kernels";
}

// The extremes of the int32 argument: every quant 0 (q - 32 = -32) or 63, every scale -128 or
// 127, activations at full scale, so each sub-block sum is at its bound.
TEST(PanelKernelsQ6K, ExtremeQuantsAndScales) {
  const KernelSet& ks = active();
  if (!ks.has_panel_kernels(kQ6)) GTEST_SKIP() << "the active level has no Q6_K panel kernels";
  std::mt19937 rng(3);
  const int64_t rows = 32, cols = 4096;
  for (int pattern : {1, 2})
    for (const int scale : {-128, 127}) {
      auto w = random_weights(kQ6, rows, cols, rng, pattern);  // quant bytes all 0xff (q 63) or 0 (q 0)
      for (size_t b = 0; b < w.size() / 210; ++b)
        for (int k = 0; k < 16; ++k) w[b * 210 + 192 + k] = static_cast<uint8_t>(static_cast<int8_t>(scale));
      const auto p = packed(kQ6, w, rows, cols);
      const size_t stride = row_bytes(kQ6, cols), xs = act_row_bytes(kQ6, cols);
      std::vector<float> x(2 * cols);
      for (int64_t i = 0; i < cols; ++i) {
        x[i] = 1.0f;                            // +127
        x[cols + i] = i % 256 == 0 ? -1.0f : -0.99f;  // -127 and below
      }
      std::vector<uint8_t> xq(2 * xs);
      for (int t = 0; t < 2; ++t) ks.quantize_activations(kQ6, &x[t * cols], cols, &xq[t * xs]);
      const Exact exact = exact_products(w, rows, cols, xq, xs, 2);
      std::vector<float> y(2 * rows);
      ks.panel_matmul(kQ6, p.data(), stride, 0, rows, cols, xq.data(), xs, 2, y.data(), rows);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], exact.value[i], tolerance(kQ6, cols, exact.magnitude[i]))
            << "pattern " << pattern << " scale " << scale << " output " << i;
    }
}

}  // namespace
}  // namespace edgellm::kernels::test
