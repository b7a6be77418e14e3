// Every matvec / matmul kernel on every level this machine runs, against the scalar level (same
// quantized activations, so only the f32 accumulation order may differ), and the scalar level
// against a double-precision dot of the dequantized operands.
#include <gtest/gtest.h>

#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

class SimdDot : public ::testing::TestWithParam<TensorType> {
 protected:
  std::vector<int64_t> col_counts() const {
    const int64_t bs = traits(GetParam()).block_size;
    if (bs == 1) return {1, 7, 8, 9, 100, 1031};
    if (bs == 32) return {32, 96, 224, 1056};  // 224: 7 blocks, the 4-block path plus a pair and a single
    return {256, 768, 2304};
  }
};

std::vector<uint8_t> quantize(const KernelSet& ks, TensorType t, const std::vector<float>& x,
                              int64_t tokens, int64_t cols) {
  const size_t ab = act_row_bytes(t, cols);
  std::vector<uint8_t> xq(ab * static_cast<size_t>(tokens));
  for (int64_t k = 0; k < tokens; ++k)
    ks.quantize_activations(t, x.data() + k * cols, cols, xq.data() + ab * static_cast<size_t>(k));
  return xq;
}

TEST_P(SimdDot, ScalarMatchesDequantizedReference) {
  const TensorType t = GetParam();
  const KernelSet& scalar = *for_isa(Isa::Scalar);
  std::mt19937 rng(1234);
  for (int64_t cols : col_counts()) {
    for (int pattern : {0, 1, 2}) {
      const int64_t rows = 5;
      const auto w = random_weights(t, rows, cols, rng, pattern);
      const auto x = random_acts(cols, rng);
      const auto xq = quantize(scalar, t, x, 1, cols);
      const auto xd = dequant_acts(t, xq.data(), cols);
      std::vector<float> y(rows);
      scalar.matvec(t, w.data(), row_bytes(t, cols), 0, rows, cols, xq.data(), y.data());
      for (int64_t r = 0; r < rows; ++r) {
        const Reference ref = reference_dot(t, w.data() + r * row_bytes(t, cols), xd);
        EXPECT_NEAR(y[r], ref.value, tolerance(t, cols, ref.magnitude))
            << type_name(t) << " cols " << cols << " row " << r << " pattern " << pattern;
      }
    }
  }
}

TEST_P(SimdDot, EveryLevelMatvecMatchesScalar) {
  const TensorType t = GetParam();
  const KernelSet& scalar = *for_isa(Isa::Scalar);
  std::mt19937 rng(99);
  for (const KernelSet* ks : usable_sets()) {
    for (int64_t cols : col_counts()) {
      for (int pattern : {0, 1, 2}) {
        const int64_t rows = 21;  // whole 8- and 16-row matvec tiles plus remainders
        const size_t stride = row_bytes(t, cols) + 6;  // a padded row stride
        auto packed = random_weights(t, rows, cols, rng, pattern);
        std::vector<uint8_t> w(stride * rows + 1);
        for (int64_t r = 0; r < rows; ++r)
          std::memcpy(&w[1 + r * stride], &packed[r * row_bytes(t, cols)], row_bytes(t, cols));
        const uint8_t* w0 = w.data() + 1;  // deliberately misaligned
        const auto x = random_acts(cols, rng);
        const auto xq = quantize(scalar, t, x, 1, cols);
        const auto xd = dequant_acts(t, xq.data(), cols);
        std::vector<float> want(rows);
        scalar.matvec(t, w0, stride, 0, rows, cols, xq.data(), want.data());
        for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, rows}, {3, 8}, {5, 6}, {7, 7}, {3, 20}}) {
          std::vector<float> got(rows, -777.0f);
          ks->matvec(t, w0, stride, begin, end, cols, xq.data(), got.data());
          for (int64_t r = 0; r < rows; ++r) {
            if (r < begin || r >= end) {
              EXPECT_EQ(got[r], -777.0f) << "row outside the range was written";
              continue;
            }
            const Reference ref = reference_dot(t, w0 + r * stride, xd);
            EXPECT_NEAR(got[r], want[r], tolerance(t, cols, ref.magnitude))
                << isa_name(ks->isa) << " " << type_name(t) << " cols " << cols << " row " << r
                << " pattern " << pattern;
          }
        }
      }
    }
  }
}

TEST_P(SimdDot, EveryLevelMatmulMatchesScalar) {
  const TensorType t = GetParam();
  const KernelSet& scalar = *for_isa(Isa::Scalar);
  std::mt19937 rng(7);
  const int64_t cols = col_counts()[1];
  // 37 rows: two whole 16-row panels of the AVX-512 VNNI prefill kernel plus a remainder.
  const int64_t rows = 37;
  const auto w = random_weights(t, rows, cols, rng);
  const size_t stride = row_bytes(t, cols);
  for (int64_t tokens : {1, 2, 3, 4, 5, 7, 9, 13, 22}) {
    const auto x = random_acts(cols * tokens, rng);
    const auto xq = quantize(scalar, t, x, tokens, cols);
    const size_t ab = act_row_bytes(t, cols);
    const size_t ys = rows + 3;
    for (const KernelSet* ks : usable_sets()) {
      for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, rows}, {1, 8}, {2, 3}, {3, 35}}) {
        std::vector<float> got(ys * static_cast<size_t>(tokens), -777.0f);
        ks->matmul(t, w.data(), stride, begin, end, cols, xq.data(), ab, tokens, got.data(), ys);
        for (int64_t k = 0; k < tokens; ++k) {
          const uint8_t* xk = xq.data() + ab * static_cast<size_t>(k);
          const auto xd = dequant_acts(t, xk, cols);
          std::vector<float> want(rows);
          scalar.matvec(t, w.data(), stride, 0, rows, cols, xk, want.data());
          for (int64_t r = 0; r < static_cast<int64_t>(ys); ++r) {
            const float g = got[static_cast<size_t>(k) * ys + static_cast<size_t>(r)];
            if (r < begin || r >= end) {
              EXPECT_EQ(g, -777.0f) << "output outside the range was written";
              continue;
            }
            const Reference ref = reference_dot(t, w.data() + r * stride, xd);
            EXPECT_NEAR(g, want[r], tolerance(t, cols, ref.magnitude))
                << isa_name(ks->isa) << " " << type_name(t) << " tokens " << tokens << " token "
                << k << " row " << r;
          }
        }
      }
    }
  }
}

TEST_P(SimdDot, RejectsBadArguments) {
  const TensorType t = GetParam();
  const KernelSet& ks = active();
  std::vector<uint8_t> w(4096);
  std::vector<uint8_t> xq(4096);
  float y[4];
  const int64_t bs = traits(t).block_size;
  if (bs > 1) {
    EXPECT_THROW(ks.matvec(t, w.data(), 4096, 0, 1, bs + 1, xq.data(), y), Error);
  }
  EXPECT_THROW(ks.matvec(t, w.data(), 1, 0, 1, bs * 8, xq.data(), y), Error);  // stride too short
  EXPECT_THROW(ks.matvec(t, w.data(), 4096, 2, 1, bs, xq.data(), y), Error);   // reversed range
  EXPECT_THROW(ks.matmul(t, w.data(), 4096, 0, 1, bs, xq.data(), 0, -1, y, 1), Error);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, SimdDot, ::testing::ValuesIn(kAllFormats),
                         [](const ::testing::TestParamInfo<TensorType>& p) {
                           return std::string(type_name(p.param));
                         });

TEST(SimdDotUnsupported, Throws) {
  EXPECT_FALSE(supports(TensorType::IQ2_XXS));
  EXPECT_THROW(act_type(TensorType::IQ2_XXS), Error);
  std::vector<uint8_t> buf(1024);
  float y = 0;
  EXPECT_THROW(active().matvec(TensorType::IQ2_XXS, buf.data(), 66, 0, 1, 256, buf.data(), &y), Error);
}

}  // namespace
}  // namespace edgellm::kernels::test
