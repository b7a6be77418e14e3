// x86 kernel family, part 4: F32 / F16 / BF16 weights against f32 activations (FMA; F16 via
// F16C, BF16 by widening to f32 — exact, then FMA).
#pragma once

#include <cmath>

#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

struct WF32 {
  static constexpr size_t kSize = 4;
  static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  static float load1(const uint8_t* p) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
};

struct WF16 {
  static constexpr size_t kSize = 2;
  static __m256 load8(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
  static float load1(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return h2f(v);
  }
};

struct WBF16 {
  static constexpr size_t kSize = 2;
  static __m256 load8(const uint8_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(load128(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
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
  static constexpr int kTileTokens = D::kAvx512 ? 4 : 2;
  // One accumulator per (row, token), the same operations for every tile shape.
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t n,
                   float* y, size_t ys) {
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 xv[T];
      for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(reinterpret_cast<const float*>(x + t * xs) + i);
      for (int r = 0; r < R; ++r) {
        const uint8_t* wp = w + r * ws + i * W::kSize;
        prefetch_span(w + r * ws, i * W::kSize, (i + 8) * W::kSize, 2 * R * ws);
        const __m256 wv = W::load8(wp);
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) {
        float s = hsum(acc[r][t]);
        // Explicit fma: the same rounding in every tile instance, whatever the compiler contracts.
        for (int64_t k = i; k < n; ++k) s = std::fma(W::load1(w + r * ws + k * W::kSize), WF32::load1(x + t * xs + 4 * k), s);
        y[t * ys + r] = s;
      }
  }
};

}  // namespace
}  // namespace edgellm::kernels::x86
