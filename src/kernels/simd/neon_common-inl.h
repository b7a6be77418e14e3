// aarch64 kernel family, part 1: primitives and the activation quantizers.
//
// Written once as templates over a level policy D, instantiated by kernels_neon.cpp (baseline
// armv8-a), kernels_neon_dotprod.cpp (+dotprod) and kernels_neon_i8mm.cpp (+dotprod+i8mm):
//   D::kDot  - SDOT: 16 int8 products summed into 4 int32 lanes in one instruction;
//   D::kI8mm - SMMLA: a 2x8 by 8x2 int8 matrix product (used by the matmul tiles).
// NEON's int8 dot is signed x signed, so weights are unpacked to their signed values directly
// (no zero-point tricks). Everything has internal linkage, as in the x86 family.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/simd/formats.h"

namespace edgellm::kernels::arm {
namespace {

using namespace blk;

inline float h2f(uint16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

inline uint16_t f2h(float f) {
  return vget_lane_u16(vreinterpret_u16_f16(vcvt_f16_f32(vdupq_n_f32(f))), 0);
}

// acc + the 16 products a[i] * b[i], spread over the 4 lanes (which lane holds which products
// differs between the two routes; callers only use the lanes' total or scale all lanes alike).
template <class D>
inline int32x4_t dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
  if constexpr (D::kDot) {
    return vdotq_s32(acc, a, b);
  } else {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
  }
}

// Software prefetch of the next tile's rows (see x86_common-inl.h for the reasoning).
template <size_t Bytes>
inline void prefetch_ahead(const uint8_t* p, size_t ahead) {
  for (size_t o = 0; o < Bytes; o += 64) __builtin_prefetch(p + ahead + o, 0, 2);
}

// ---- activation quantizers (bit-identical to quantize_ref.cpp) ------------------------------

inline int8x16_t narrow4(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  const int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
  return vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd));
}

inline void quantize_q8_0(const float* x, int64_t n, void* out) {
  const int64_t nb = n / 32;
  auto* dst = static_cast<uint8_t*>(out);
  auto* sums = dst + nb * kQ8_0Bytes;
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + 32 * i;
    float32x4_t f[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
      f[k] = vld1q_f32(v + 4 * k);
      m = vmaxq_f32(m, vabsq_f32(f[k]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int32x4_t q[8];
    int32x4_t s = vdupq_n_s32(0);
    for (int k = 0; k < 8; ++k) {
      q[k] = vcvtaq_s32_f32(vmulq_n_f32(f[k], id));  // ties away from zero, as roundf
      s = vaddq_s32(s, q[k]);
    }
    const uint16_t dh = f2h(d);
    const auto sum = static_cast<int16_t>(vaddvq_s32(s));
    std::memcpy(dst + kQ8_0Bytes * i, &dh, 2);
    vst1q_s8(reinterpret_cast<int8_t*>(dst + kQ8_0Bytes * i + 2), narrow4(q[0], q[1], q[2], q[3]));
    vst1q_s8(reinterpret_cast<int8_t*>(dst + kQ8_0Bytes * i + 18), narrow4(q[4], q[5], q[6], q[7]));
    std::memcpy(sums + 2 * i, &sum, 2);
  }
}

inline void f16_to_f32(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(in + i))));
  for (; i < n; ++i) out[i] = vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(in[i]))), 0);
}

inline void quantize_q8_k(const float* x, int64_t n, void* out) {
  const int64_t nb = n / 256;
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + 256 * i;
    uint8_t* b = dst + 292 * i;
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 64; ++k) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(v + 4 * k)));
    const float amax = vmaxvq_f32(m);
    if (amax == 0.0f) {
      std::memset(b, 0, 292);
      continue;
    }
    int first = 0;  // the sign of the first element of largest magnitude decides
    while (!(v[first] == amax || v[first] == -amax)) ++first;
    const float iscale = -127.0f / v[first];
    const int32x4_t cap = vdupq_n_s32(127);
    int16_t bsums[16];
    for (int g = 0; g < 16; ++g) {
      int32x4_t q[4];
      for (int k = 0; k < 4; ++k)
        q[k] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(v + 16 * g + 4 * k), iscale)), cap);
      vst1q_s8(reinterpret_cast<int8_t*>(b + 4 + 16 * g), narrow4(q[0], q[1], q[2], q[3]));
      bsums[g] = static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
    }
    const float d = 1.0f / iscale;
    std::memcpy(b, &d, 4);
    std::memcpy(b + 4 + 256, bsums, sizeof bsums);
  }
}

}  // namespace
}  // namespace edgellm::kernels::arm
