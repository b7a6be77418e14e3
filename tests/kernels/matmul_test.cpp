// kernels::matmul against a double-precision product of the dequantized weights, for every
// weight format the converter writes, odd shapes and several thread counts.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/ops.h"
#include "kernels/quant/quant.h"
#include "runtime/thread_pool.h"

namespace edgellm::kernels {
namespace {

struct Case {
  TensorType type;
  int64_t rows, cols, tokens;
};

TEST(Matmul, MatchesDoubleProductOfDequantizedWeights) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Case c : {Case{TensorType::F32, 13, 40, 1}, Case{TensorType::F32, 70, 33, 37},
                       Case{TensorType::F16, 9, 64, 5}, Case{TensorType::BF16, 17, 32, 2},
                       Case{TensorType::Q8_0, 24, 96, 40}, Case{TensorType::Q4_0, 5, 64, 3},
                       Case{TensorType::Q4_K, 3, 256, 2}}) {
    std::vector<float> wf(static_cast<size_t>(c.rows * c.cols)), x(static_cast<size_t>(c.tokens * c.cols));
    for (float& v : wf) v = normal(rng);
    for (float& v : x) v = normal(rng);
    std::vector<uint8_t> wq(row_bytes(c.type, c.cols) * static_cast<size_t>(c.rows));
    quant::quantize_rows(c.type, wf.data(), wq.data(), c.rows, c.cols);
    std::vector<float> deq(wf.size());
    quant::dequantize_row(c.type, wq.data(), deq.data(), c.rows * c.cols);
    const WeightMatrix w{c.type, c.rows, c.cols, wq.data()};
    for (int threads : {1, 2, 5}) {
      runtime::ThreadPool pool(threads);
      std::vector<float> y(static_cast<size_t>(c.tokens * c.rows), -1.0f);
      matmul(w, x.data(), c.tokens, y.data(), pool);
      for (int64_t t = 0; t < c.tokens; ++t)
        for (int64_t r = 0; r < c.rows; ++r) {
          double ref = 0, mag = 0;
          for (int64_t k = 0; k < c.cols; ++k) {
            ref += static_cast<double>(deq[static_cast<size_t>(r * c.cols + k)]) * x[static_cast<size_t>(t * c.cols + k)];
            mag += std::abs(static_cast<double>(deq[static_cast<size_t>(r * c.cols + k)]) * x[static_cast<size_t>(t * c.cols + k)]);
          }
          // float32 accumulation: error bounded by ~cols · 2^-24 · Σ|w·x|; 1e-6·Σ|w·x| is
          // well above that for these sizes and far below any indexing mistake.
          EXPECT_NEAR(y[static_cast<size_t>(t * c.rows + r)], ref, 1e-6 * mag + 1e-6)
              << type_name(c.type) << " t=" << t << " r=" << r << " threads=" << threads;
        }
    }
  }
}

TEST(Matmul, F16RowsDequantizeBitExactlyForEveryValue) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  const WeightMatrix w{TensorType::F16, 1, 65536, reinterpret_cast<const uint8_t*>(all.data())};
  std::vector<float> out(all.size());
  dequantize_weight_row(w, 0, out.data());
  for (size_t i = 0; i < all.size(); ++i) {
    uint32_t got, want;
    const float ref = fp16_to_fp32(all[i]);
    std::memcpy(&got, &out[i], 4);
    std::memcpy(&want, &ref, 4);
    ASSERT_EQ(got, want) << "half 0x" << std::hex << i;
  }
}

TEST(Matmul, EmptyWeightIsAnError) {
  runtime::ThreadPool pool(1);
  float x = 1, y = 0;
  EXPECT_THROW(matmul(WeightMatrix{}, &x, 1, &y, pool), Error);
}

TEST(Ops, RmsNormSwigluSoftmax) {
  const float x[4] = {1, -2, 3, -4};
  const float w[4] = {1, 0.5f, 2, 1};
  float y[4];
  rms_norm(x, w, y, 4, 0.0f);
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] / rms * w[i], 1e-6);

  float g[3] = {0.0f, 2.0f, -3.0f};
  const float u[3] = {5.0f, 0.5f, 2.0f};
  swiglu(g, u, 3);
  EXPECT_NEAR(g[0], 0.0, 1e-7);
  EXPECT_NEAR(g[1], 2.0 / (1 + std::exp(-2.0)) * 0.5, 1e-6);
  EXPECT_NEAR(g[2], -3.0 / (1 + std::exp(3.0)) * 2.0, 1e-6);

  float s[3] = {1000.0f, 1001.0f, 999.0f};  // large values: max-subtraction keeps it finite
  softmax(s, 3);
  const double e0 = std::exp(-1.0), e2 = std::exp(-2.0), z = 1 + e0 + e2;
  EXPECT_NEAR(s[0], e0 / z, 1e-6);
  EXPECT_NEAR(s[1], 1 / z, 1e-6);
  EXPECT_NEAR(s[2], e2 / z, 1e-6);
}

}  // namespace
}  // namespace edgellm::kernels
