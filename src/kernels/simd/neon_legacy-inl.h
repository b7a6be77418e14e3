// aarch64 kernel family, part 2: the 32-element block formats against Q8_0 activations. A
// format yields its block as two int8x16 of signed weights (elements 0..15, 16..31) and its
// scale (and min). The i8mm level runs matmul tiles of 2 rows x 2 tokens per SMMLA.
#pragma once

#include <cmath>

#include "kernels/simd/neon_common-inl.h"

namespace edgellm::kernels::arm {
namespace {

struct LegacyBlock {
  int8x16_t lo, hi;  // weights 0..15 and 16..31 (Q4_1/Q5_1: the unsigned levels)
  float d, m;
};

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// 0x10 in byte j where bit j of qh is set, for bytes 0..15 (shift 0) or 16..31 (shift 16).
inline uint8x16_t fifth_bits(uint32_t qh, int shift) {
  const uint8x8_t b0 = vdup_n_u8(static_cast<uint8_t>(qh >> shift));
  const uint8x8_t b1 = vdup_n_u8(static_cast<uint8_t>(qh >> (shift + 8)));
  const uint8x16_t bits = vcombine_u8(vcreate_u8(0x8040201008040201ull), vcreate_u8(0x8040201008040201ull));
  return vandq_u8(vtstq_u8(vcombine_u8(b0, b1), bits), vdupq_n_u8(0x10));
}

struct Q4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kHasMin = false;
  static LegacyBlock load(const uint8_t* b) {
    const uint8x16_t q = vld1q_u8(b + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    return {vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), eight),
            vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight), h2f(load_u16(b)), 0.0f};
  }
};

struct Q4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr bool kHasMin = true;
  static LegacyBlock load(const uint8_t* b) {
    const uint8x16_t q = vld1q_u8(b + 4);
    return {vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), vreinterpretq_s8_u8(vshrq_n_u8(q, 4)),
            h2f(load_u16(b)), h2f(load_u16(b + 2))};
  }
};

struct Q5_0 {
  static constexpr size_t kBytes = sizeof(BlockQ5_0);
  static constexpr bool kHasMin = false;
  static LegacyBlock load(const uint8_t* b) {
    const uint32_t qh = load_u32(b + 2);
    const uint8x16_t q = vld1q_u8(b + 6);
    const uint8x16_t lo = vorrq_u8(vandq_u8(q, vdupq_n_u8(15)), fifth_bits(qh, 0));
    const uint8x16_t hi = vorrq_u8(vshrq_n_u8(q, 4), fifth_bits(qh, 16));
    const int8x16_t sixteen = vdupq_n_s8(16);
    return {vsubq_s8(vreinterpretq_s8_u8(lo), sixteen), vsubq_s8(vreinterpretq_s8_u8(hi), sixteen),
            h2f(load_u16(b)), 0.0f};
  }
};

struct Q5_1 {
  static constexpr size_t kBytes = sizeof(BlockQ5_1);
  static constexpr bool kHasMin = true;
  static LegacyBlock load(const uint8_t* b) {
    const uint32_t qh = load_u32(b + 4);
    const uint8x16_t q = vld1q_u8(b + 8);
    const uint8x16_t lo = vorrq_u8(vandq_u8(q, vdupq_n_u8(15)), fifth_bits(qh, 0));
    const uint8x16_t hi = vorrq_u8(vshrq_n_u8(q, 4), fifth_bits(qh, 16));
    return {vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), h2f(load_u16(b)), h2f(load_u16(b + 2))};
  }
};

struct Q8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kHasMin = false;
  static LegacyBlock load(const uint8_t* b) {
    const auto* q = reinterpret_cast<const int8_t*>(b + 2);
    return {vld1q_s8(q), vld1q_s8(q + 16), h2f(load_u16(b)), 0.0f};
  }
};

struct Iq4Nl {
  static constexpr size_t kBytes = sizeof(BlockIq4Nl);
  static constexpr bool kHasMin = false;
  static LegacyBlock load(const uint8_t* b) {
    const int8x16_t table = vld1q_s8(kIq4NlValues);
    const uint8x16_t q = vld1q_u8(b + 2);
    return {vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(15))), vqtbl1q_s8(table, vshrq_n_u8(q, 4)),
            h2f(load_u16(b)), 0.0f};
  }
};

struct ActBlock {
  int8x16_t lo, hi;
  float d, s;  // scale, scale * sum(q)
};

inline ActBlock load_act(const uint8_t* x, int64_t nb, int64_t b) {
  const uint8_t* xb = x + b * kQ8_0Bytes;
  int16_t sum;
  std::memcpy(&sum, x + nb * kQ8_0Bytes + 2 * b, 2);
  const auto* q = reinterpret_cast<const int8_t*>(xb + 2);
  const float d = h2f(load_u16(xb));
  return {vld1q_s8(q), vld1q_s8(q + 16), d, d * static_cast<float>(sum)};
}

// Batch invariance: every (row, token) goes through the same operations whatever R and T. The
// SMMLA tiles yield one exact int32 per (row, token, block), so on the i8mm level the other
// tiles (odd R or T, the matvec) reduce each block's dot to one int32 too (vaddvq, exact) and
// run the same single FMA chain acc = fma(float(isum), d_w * d_x, acc); the lower levels keep
// four lane-partial chains everywhere. The min term is an explicit fma chain in every path.
template <class D, class F>
struct LegacyKernel {
  static constexpr int kBlock = 32;
  static constexpr int kVecRows = 4;
  static constexpr int kTileRows = D::kI8mm ? 4 : 4;
  static constexpr int kTileTokens = D::kI8mm ? 4 : 2;
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    if constexpr (D::kI8mm && R % 2 == 0 && T % 2 == 0) {
      tile_mmla<R, T>(w, ws, x, xs, nb, y, ys);
    } else if constexpr (D::kI8mm) {
      tile_block_sums<R, T>(w, ws, x, xs, nb, y, ys);
    } else {
      float32x4_t acc[R][T];
      float macc[R][T];
      for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) {
          acc[r][t] = vdupq_n_f32(0.0f);
          macc[r][t] = 0.0f;
        }
      for (int64_t b = 0; b < nb; ++b) {
        ActBlock xa[T];
        for (int t = 0; t < T; ++t) xa[t] = load_act(x + t * xs, nb, b);
        for (int r = 0; r < R; ++r) {
          const uint8_t* wp = w + r * ws + b * F::kBytes;
          prefetch_ahead<1>(wp, 2 * R * ws);
          const LegacyBlock wb = F::load(wp);
          for (int t = 0; t < T; ++t) {
            const int32x4_t p = dot<D>(dot<D>(vdupq_n_s32(0), wb.lo, xa[t].lo), wb.hi, xa[t].hi);
            acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(p), wb.d * xa[t].d);
            if constexpr (F::kHasMin) macc[r][t] = std::fma(wb.m, xa[t].s, macc[r][t]);
          }
        }
      }
      for (int t = 0; t < T; ++t)
        for (int r = 0; r < R; ++r) y[t * ys + r] = vaddvq_f32(acc[r][t]) + macc[r][t];
    }
  }

  // The i8mm level's tiles that SMMLA cannot cover: the arithmetic of tile_mmla, one (row,
  // token) at a time.
  template <int R, int T>
  static void tile_block_sums(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                              float* y, size_t ys) {
    float acc[R][T], macc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = macc[r][t] = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      ActBlock xa[T];
      for (int t = 0; t < T; ++t) xa[t] = load_act(x + t * xs, nb, b);
      for (int r = 0; r < R; ++r) {
        const uint8_t* wp = w + r * ws + b * F::kBytes;
        prefetch_ahead<1>(wp, 2 * R * ws);
        const LegacyBlock wb = F::load(wp);
        for (int t = 0; t < T; ++t) {
          const int32_t isum = vaddvq_s32(dot<D>(dot<D>(vdupq_n_s32(0), wb.lo, xa[t].lo), wb.hi, xa[t].hi));
          acc[r][t] = std::fma(static_cast<float>(isum), wb.d * xa[t].d, acc[r][t]);
          if constexpr (F::kHasMin) macc[r][t] = std::fma(wb.m, xa[t].s, macc[r][t]);
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = acc[r][t] + macc[r][t];
  }

  // SMMLA: int32x4 [r0.t0, r0.t1, r1.t0, r1.t1] += (2 rows x 8) x (8 x 2 tokens).
  template <int R, int T>
  static void tile_mmla(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                        float* y, size_t ys) {
    float32x4_t acc[R / 2][T / 2];
    float macc[R][T];
    for (int i = 0; i < R / 2; ++i)
      for (int j = 0; j < T / 2; ++j) acc[i][j] = vdupq_n_f32(0.0f);
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) macc[r][t] = 0.0f;
    for (int64_t b = 0; b < nb; ++b) {
      // Token pairs interleaved by 8 columns: xt[j][k] = [t0 cols 8k..8k+7, t1 cols 8k..8k+7].
      int8x16_t xt[T / 2][4];
      float dx[T], sx[T];
      for (int j = 0; j < T / 2; ++j) {
        const ActBlock a0 = load_act(x + (2 * j) * xs, nb, b);
        const ActBlock a1 = load_act(x + (2 * j + 1) * xs, nb, b);
        dx[2 * j] = a0.d, dx[2 * j + 1] = a1.d, sx[2 * j] = a0.s, sx[2 * j + 1] = a1.s;
        xt[j][0] = vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a0.lo), vreinterpretq_s64_s8(a1.lo)));
        xt[j][1] = vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a0.lo), vreinterpretq_s64_s8(a1.lo)));
        xt[j][2] = vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a0.hi), vreinterpretq_s64_s8(a1.hi)));
        xt[j][3] = vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a0.hi), vreinterpretq_s64_s8(a1.hi)));
      }
      for (int i = 0; i < R / 2; ++i) {
        const uint8_t* w0 = w + (2 * i) * ws + b * F::kBytes;
        const uint8_t* w1 = w0 + ws;
        prefetch_ahead<1>(w0, 2 * R * ws);
        prefetch_ahead<1>(w1, 2 * R * ws);
        const LegacyBlock b0 = F::load(w0);
        const LegacyBlock b1 = F::load(w1);
        int8x16_t wr[4];
        wr[0] = vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(b0.lo), vreinterpretq_s64_s8(b1.lo)));
        wr[1] = vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(b0.lo), vreinterpretq_s64_s8(b1.lo)));
        wr[2] = vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(b0.hi), vreinterpretq_s64_s8(b1.hi)));
        wr[3] = vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(b0.hi), vreinterpretq_s64_s8(b1.hi)));
        for (int j = 0; j < T / 2; ++j) {
          int32x4_t p = vdupq_n_s32(0);
          for (int k = 0; k < 4; ++k) p = vmmlaq_s32(p, wr[k], xt[j][k]);
          const float s[4] = {b0.d * dx[2 * j], b0.d * dx[2 * j + 1], b1.d * dx[2 * j], b1.d * dx[2 * j + 1]};
          acc[i][j] = vfmaq_f32(acc[i][j], vcvtq_f32_s32(p), vld1q_f32(s));
          if constexpr (F::kHasMin) {
            macc[2 * i][2 * j] = std::fma(b0.m, sx[2 * j], macc[2 * i][2 * j]);
            macc[2 * i][2 * j + 1] = std::fma(b0.m, sx[2 * j + 1], macc[2 * i][2 * j + 1]);
            macc[2 * i + 1][2 * j] = std::fma(b1.m, sx[2 * j], macc[2 * i + 1][2 * j]);
            macc[2 * i + 1][2 * j + 1] = std::fma(b1.m, sx[2 * j + 1], macc[2 * i + 1][2 * j + 1]);
          }
        }
      }
    }
    for (int i = 0; i < R / 2; ++i)
      for (int j = 0; j < T / 2; ++j) {
        const int r = 2 * i, t = 2 * j;
        y[t * ys + r] = vgetq_lane_f32(acc[i][j], 0) + macc[r][t];
        y[(t + 1) * ys + r] = vgetq_lane_f32(acc[i][j], 1) + macc[r][t + 1];
        y[t * ys + r + 1] = vgetq_lane_f32(acc[i][j], 2) + macc[r + 1][t];
        y[(t + 1) * ys + r + 1] = vgetq_lane_f32(acc[i][j], 3) + macc[r + 1][t + 1];
      }
  }
};

}  // namespace
}  // namespace edgellm::kernels::arm
