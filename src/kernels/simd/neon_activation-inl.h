// aarch64 kernel family: SwiGLU's SiLU, vectorized; the same method as x86_activation-inl.h
// (clamped range reduction, Taylor series to r^7, 2^n in the exponent bits), 4 lanes, with a
// call's last n % 4 values run through a padded copy so every element is computed alike.
#pragma once

#include "kernels/simd/lane_groups-inl.h"
#include "kernels/simd/neon_common-inl.h"

namespace edgellm::kernels::arm {
namespace {

inline float32x4_t exp_clamped(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.0f)), vdupq_n_f32(88.0f));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  for (const float c : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
    p = vfmaq_f32(vdupq_n_f32(c), p, r);
  const int32x4_t scale = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(p, vreinterpretq_f32_s32(scale));
}

inline float32x4_t swiglu4(float32x4_t g, float32x4_t u) {
  const float32x4_t s = vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), exp_clamped(vnegq_f32(g))));
  const uint32x4_t is_nan = vmvnq_u32(vceqq_f32(g, g));
  return vbslq_f32(is_nan, g, vmulq_f32(s, u));
}

inline void swiglu(float* gate, const float* up, int64_t n) {
  lanes::for_each_group<4>(gate, up, n, [](float* g, const float* u) {
    vst1q_f32(g, swiglu4(vld1q_f32(g), vld1q_f32(u)));
  });
}

}  // namespace
}  // namespace edgellm::kernels::arm
