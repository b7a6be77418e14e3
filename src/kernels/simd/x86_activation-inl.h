// x86 kernel family: SwiGLU's SiLU, vectorized (the scalar std::exp loop took a tenth of a
// 512-token prefill). One 8-lane routine computes every element, including a call's last
// n % 8 (through a padded copy), so a value's result never depends on its position in the call.
#pragma once

#include "kernels/simd/lane_groups-inl.h"
#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// e^x for x clamped to [-87, 88] (finite, normal results): x = n ln2 + r with |r| <= ln2 / 2,
// e^r by its Taylor series to r^7 (truncation below 2^-25 relative), times 2^n built in the
// exponent bits. Within 2 ulp of std::exp over the range.
inline __m256 exp_clamped(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two parts
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  for (const float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
  const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// silu(g) * u = g / (1 + e^-g) * u; a NaN gate stays NaN.
inline __m256 swiglu8(__m256 g, __m256 u) {
  const __m256 e = exp_clamped(_mm256_sub_ps(_mm256_setzero_ps(), g));
  const __m256 s = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_blendv_ps(_mm256_mul_ps(s, u), g, _mm256_cmp_ps(g, g, _CMP_UNORD_Q));
}

inline void swiglu(float* gate, const float* up, int64_t n) {
  lanes::for_each_group<8>(gate, up, n, [](float* g, const float* u) {
    _mm256_storeu_ps(g, swiglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
  });
}

}  // namespace
}  // namespace edgellm::kernels::x86
