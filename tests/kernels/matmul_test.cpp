// kernels::matmul against a double-precision product of the dequantized weights, for every
// weight format the converter writes, odd shapes and several thread counts.
#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/ops.h"
#include "kernels/quant/quant.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"

namespace edgellm::kernels {
namespace {

struct Case {
  TensorType type;
  int64_t rows, cols, tokens;
};

// The activation format the kernels pair with a weight type (kernels.h): none for float
// weights, Q8_0 blocks for the 32-element formats, Q8_K for K-quants.
TensorType activation_type(TensorType weight) {
  switch (act_type(weight)) {
    case ActType::F32: return TensorType::F32;
    case ActType::Q8_0: return TensorType::Q8_0;
    case ActType::Q8_K: return TensorType::Q8_K;
  }
  return TensorType::F32;
}

// Rounds x to what the kernels multiply with: x quantized to 8 bits the way llama.cpp does
// (quant::quantize_rows is byte-identical to ggml's quantizers) and dequantized again.
std::vector<float> as_kernel_activations(TensorType weight, const std::vector<float>& x,
                                         int64_t tokens, int64_t cols) {
  const TensorType at = activation_type(weight);
  if (at == TensorType::F32) return x;
  std::vector<uint8_t> q(row_bytes(at, cols) * static_cast<size_t>(tokens));
  quant::quantize_rows(at, x.data(), q.data(), tokens, cols);
  std::vector<float> back(x.size());
  quant::dequantize_row(at, q.data(), back.data(), tokens * cols);
  return back;
}

std::vector<float> random_vector(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& e : v) e = normal(rng);
  return v;
}

// Every format with SIMD kernels, plus Q8_K (no kernel: the generic fallback). Shapes cover
// row counts that are not multiples of the row tile or chunk grain, one token (matvec), a few
// tokens (tile remainders) and batches across the 64-token block boundary.
const Case kCases[] = {
    {TensorType::F32, 13, 40, 1},     {TensorType::F32, 70, 33, 37},
    {TensorType::F16, 9, 64, 5},      {TensorType::BF16, 17, 32, 2},
    {TensorType::Q8_0, 24, 96, 70},   {TensorType::Q8_0, 37, 64, 1},
    {TensorType::Q4_0, 5, 64, 3},     {TensorType::Q4_0, 35, 160, 1},
    {TensorType::Q4_1, 19, 96, 7},    {TensorType::Q5_0, 21, 64, 4},
    {TensorType::Q5_1, 18, 32, 1},    {TensorType::IQ4_NL, 22, 96, 9},
    {TensorType::Q2_K, 11, 256, 3},   {TensorType::Q3_K, 6, 512, 1},
    {TensorType::Q4_K, 3, 256, 2},    {TensorType::Q4_K, 41, 512, 66},
    {TensorType::Q5_K, 9, 256, 5},    {TensorType::Q6_K, 33, 256, 1},
    {TensorType::Q6_K, 7, 512, 10},   {TensorType::Q8_K, 5, 256, 3},
};

// The kernels compute Σ w·x̂ exactly within a block (x̂: the 8-bit activations; integer dots),
// then accumulate block partial sums times the product of the two scales in f32: rounding of
// ~nb·2^-24 relative to Σ|w·x̂|. 1e-5·Σ|w·x̂| leaves a wide margin and is still far below what
// a wrong activation format (~1e-3 relative) or an indexing mistake would change.
TEST(Matmul, MatchesDoubleProductWithKernelActivations) {
  std::mt19937 rng(11);
  for (const Case c : kCases) {
    const std::vector<float> wf = random_vector(rng, static_cast<size_t>(c.rows * c.cols));
    const std::vector<float> x = random_vector(rng, static_cast<size_t>(c.tokens * c.cols));
    std::vector<uint8_t> wq(row_bytes(c.type, c.cols) * static_cast<size_t>(c.rows));
    quant::quantize_rows(c.type, wf.data(), wq.data(), c.rows, c.cols);
    std::vector<float> deq(wf.size());
    quant::dequantize_row(c.type, wq.data(), deq.data(), c.rows * c.cols);
    // The generic fallback (types without kernels) multiplies with the float activations.
    const std::vector<float> xk = supports(c.type) ? as_kernel_activations(c.type, x, c.tokens, c.cols) : x;
    const WeightMatrix w{c.type, c.rows, c.cols, wq.data()};
    std::vector<float> first;
    for (int threads : {1, 2, 3, 5}) {
      runtime::ThreadPool pool(threads);
      std::vector<float> y(static_cast<size_t>(c.tokens * c.rows), -1.0f);
      matmul(w, x.data(), c.tokens, y.data(), pool);
      for (int64_t t = 0; t < c.tokens; ++t)
        for (int64_t r = 0; r < c.rows; ++r) {
          double ref = 0, mag = 0;
          for (int64_t k = 0; k < c.cols; ++k) {
            const double p = static_cast<double>(deq[static_cast<size_t>(r * c.cols + k)]) *
                             xk[static_cast<size_t>(t * c.cols + k)];
            ref += p;
            mag += std::abs(p);
          }
          ASSERT_NEAR(y[static_cast<size_t>(t * c.rows + r)], ref, 1e-5 * mag + 1e-6)
              << type_name(c.type) << " t=" << t << " r=" << r << " threads=" << threads;
        }
      // Results must not depend on the thread count: bit-identical to the 1-thread run.
      if (first.empty()) {
        first = y;
      } else {
        ASSERT_EQ(0, std::memcmp(first.data(), y.data(), y.size() * sizeof(float)))
            << type_name(c.type) << " differs at " << threads << " threads";
      }
    }
  }
}

// The generic path against the float product of the dequantized weights (1e-6·Σ|w·x| bounds
// its f32 accumulation for these sizes), and the SIMD path against it within the activation
// rounding: |x - x̂| <= 0.57·amax(block)/127 per element (half a step, plus the fp16 rounding
// of the block scale, ≤ 127·2^-11 steps), so |Σw(x - x̂)| <= Σ|w|·0.6·amax/127 — checked with
// each element's own block maximum.
TEST(Matmul, ReferencePathAndActivationRoundingBound) {
  std::mt19937 rng(5);
  for (const Case c : kCases) {
    const std::vector<float> wf = random_vector(rng, static_cast<size_t>(c.rows * c.cols));
    const std::vector<float> x = random_vector(rng, static_cast<size_t>(c.tokens * c.cols));
    std::vector<uint8_t> wq(row_bytes(c.type, c.cols) * static_cast<size_t>(c.rows));
    quant::quantize_rows(c.type, wf.data(), wq.data(), c.rows, c.cols);
    std::vector<float> deq(wf.size());
    quant::dequantize_row(c.type, wq.data(), deq.data(), c.rows * c.cols);
    const WeightMatrix w{c.type, c.rows, c.cols, wq.data()};
    runtime::ThreadPool pool(2);
    std::vector<float> y(static_cast<size_t>(c.tokens * c.rows)), yref(y.size());
    matmul(w, x.data(), c.tokens, y.data(), pool);
    matmul_reference(w, x.data(), c.tokens, yref.data(), pool);
    const TensorType at = supports(c.type) ? activation_type(c.type) : TensorType::F32;
    const int64_t block = at == TensorType::Q8_K ? 256 : 32;
    for (int64_t t = 0; t < c.tokens; ++t)
      for (int64_t r = 0; r < c.rows; ++r) {
        double ref = 0, mag = 0, bound = 0;
        for (int64_t k = 0; k < c.cols; ++k) {
          const double wv = deq[static_cast<size_t>(r * c.cols + k)];
          const double xv = x[static_cast<size_t>(t * c.cols + k)];
          ref += wv * xv;
          mag += std::abs(wv * xv);
          if (at != TensorType::F32) {
            double amax = 0;
            const int64_t b0 = k / block * block;
            for (int64_t j = b0; j < b0 + block; ++j)
              amax = std::max(amax, std::abs(static_cast<double>(x[static_cast<size_t>(t * c.cols + j)])));
            bound += std::abs(wv) * 0.6 * amax / 127.0;
          }
        }
        const size_t i = static_cast<size_t>(t * c.rows + r);
        ASSERT_NEAR(yref[i], ref, 1e-6 * mag + 1e-6) << type_name(c.type) << " reference path";
        ASSERT_NEAR(y[i], ref, bound + 1e-5 * mag + 1e-6) << type_name(c.type) << " t=" << t << " r=" << r;
      }
  }
}

TEST(Matmul, SteadyStateReusesTheActivationBuffer) {
  // Same shapes twice: the second call must not need more memory, and repeated calls give
  // identical results (the buffer holds no state between calls).
  std::mt19937 rng(3);
  const int64_t rows = 20, cols = 256, tokens = 4;
  const std::vector<float> wf = random_vector(rng, static_cast<size_t>(rows * cols));
  std::vector<uint8_t> wq(row_bytes(TensorType::Q4_K, cols) * rows);
  quant::quantize_rows(TensorType::Q4_K, wf.data(), wq.data(), rows, cols);
  const WeightMatrix w{TensorType::Q4_K, rows, cols, wq.data()};
  runtime::ThreadPool pool(2);
  const std::vector<float> x = random_vector(rng, static_cast<size_t>(tokens * cols));
  std::vector<float> a(static_cast<size_t>(tokens * rows)), b(a.size());
  matmul(w, x.data(), tokens, a.data(), pool);
  const std::vector<float> other = random_vector(rng, static_cast<size_t>(tokens * cols));
  matmul(w, other.data(), tokens, b.data(), pool);  // overwrite the buffer with other data
  matmul(w, x.data(), tokens, b.data(), pool);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST(Matmul, MisalignedColumnsAreAnError) {
  runtime::ThreadPool pool(1);
  std::vector<uint8_t> data(1024);
  std::vector<float> x(48), y(1);
  // 48 columns are not whole Q4_0 blocks: a clear error, not a read past the row.
  EXPECT_THROW(matmul(WeightMatrix{TensorType::Q4_0, 1, 48, data.data()}, x.data(), 1, y.data(), pool), Error);
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
