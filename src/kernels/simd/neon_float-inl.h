// aarch64 kernel family, part 4: F32 / F16 / BF16 weights against f32 activations (FMLA; F16
// widened with FCVTL, BF16 by a 16-bit shift — both exact).
#pragma once

#include <cmath>

#include "kernels/simd/neon_common-inl.h"

namespace edgellm::kernels::arm {
namespace {

struct WF32 {
  static constexpr size_t kSize = 4;
  static float32x4_t load4(const uint8_t* p) { return vreinterpretq_f32_u8(vld1q_u8(p)); }
  static float load1(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
};

struct WF16 {
  static constexpr size_t kSize = 2;
  static float32x4_t load4(const uint8_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(p)));
  }
  static float load1(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return h2f(v);
  }
};

struct WBF16 {
  static constexpr size_t kSize = 2;
  static float32x4_t load4(const uint8_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vreinterpret_u16_u8(vld1_u8(p)), 16));
  }
  static float load1(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    const uint32_t bits = static_cast<uint32_t>(v) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

template <class D, class W>
struct FloatKernel {
  static constexpr int kBlock = 1;
  static constexpr int kVecRows = 4;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  // One accumulator per (row, token), the same operations for every tile shape.
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t n,
                   float* y, size_t ys) {
    float32x4_t acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      float32x4_t xv[T];
      for (int t = 0; t < T; ++t) xv[t] = WF32::load4(x + t * xs + 4 * i);
      for (int r = 0; r < R; ++r) {
        const uint8_t* wp = w + r * ws + i * W::kSize;
        prefetch_ahead<1>(wp, 2 * R * ws);
        const float32x4_t wv = W::load4(wp);
        for (int t = 0; t < T; ++t) acc[r][t] = vfmaq_f32(acc[r][t], wv, xv[t]);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) {
        float s = vaddvq_f32(acc[r][t]);
        // Explicit fma: the same rounding in every tile instance, whatever the compiler contracts.
        for (int64_t k = i; k < n; ++k) s = std::fma(W::load1(w + r * ws + k * W::kSize), WF32::load1(x + t * xs + 4 * k), s);
        y[t * ys + r] = s;
      }
  }
};

}  // namespace
}  // namespace edgellm::kernels::arm
