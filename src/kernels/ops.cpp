#include "kernels/ops.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/simd/kernels.h"

namespace edgellm::kernels {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0.0;  // double: the mean of squares of a long row keeps full float precision
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void swiglu(float* gate, const float* up, int64_t n) { active().swiglu(gate, up, n); }

void swiglu_reference(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void softmax(float* x, int64_t n) {
  const float max = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void add_bias(float* y, const float* b, int64_t n_rows, int64_t n_cols) {
  for (int64_t r = 0; r < n_rows; ++r) add_inplace(y + r * n_cols, b, n_cols);
}

// IEEE half -> float without branches, so that the row loop vectorizes: moving the 15 bits
// below the sign to the top of a float's exponent/mantissa and scaling by 2^112 rebias the
// exponent (exact for normal and subnormal halves); infinities and NaNs get an all-ones
// exponent. Bit-identical to fp16_to_fp32 (tested exhaustively).
void f16_row_to_f32(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = in[i];
    const uint32_t magnitude = (h & 0x7fffu) << 13;
    const float scaled = std::bit_cast<float>(magnitude) * 0x1p112f;
    const uint32_t finite = std::bit_cast<uint32_t>(scaled);
    // exponent 31: infinity, or a NaN made quiet (bit 22) as F16C and fp16_to_fp32 do
    const uint32_t special = magnitude | 0x7f800000u | ((h & 0x3ffu) != 0 ? 0x00400000u : 0u);
    const uint32_t bits = (h & 0x7c00u) == 0x7c00u ? special : finite;
    out[i] = std::bit_cast<float>(bits | ((h & 0x8000u) << 16));
  }
}

}  // namespace edgellm::kernels
