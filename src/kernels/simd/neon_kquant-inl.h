// aarch64 kernel family, part 3: K-quants against Q8_K activations. A format yields its
// super-block as 16 int8x16 runs of 16 signed (or, with a min, unsigned) levels; run k covers
// elements 16k..16k+15 and has scale scale(k) (Q4_K/Q5_K: one scale per two runs). Sums stay in
// int32 lanes per super-block; the mins are an integer sum over the activation's bsums.
#pragma once

#include "kernels/simd/neon_common-inl.h"

namespace edgellm::kernels::arm {
namespace {

struct KPrep {
  float d = 0, dmin = 0;
  int32_t sc[16];
  int32_t mn[16];  // per 16-element run (Q4_K/Q5_K: the sub-block's min, repeated)
};

inline float load_half(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return h2f(v);
}

inline void prep_k4(const uint8_t* b, KPrep& p) {
  p.d = load_half(b);
  p.dmin = load_half(b + 2);
  uint8_t sc[8], mn[8];
  unpack_k4_scales(b + 4, sc, mn);
  for (int k = 0; k < 16; ++k) {
    p.sc[k] = sc[k / 2];
    p.mn[k] = mn[k / 2];
  }
}

struct KQ4 {
  static constexpr size_t kBytes = 144;
  static constexpr bool kHasMin = true;
  static void prep(const uint8_t* b, KPrep& p) { prep_k4(b, p); }
  template <class Fn>
  static void runs(const uint8_t* b, Fn&& fn) {
    const uint8x16_t m4 = vdupq_n_u8(15);
    for (int j = 0; j < 4; ++j) {
      const uint8x16_t q0 = vld1q_u8(b + 16 + 32 * j), q1 = vld1q_u8(b + 16 + 32 * j + 16);
      fn(4 * j + 0, vreinterpretq_s8_u8(vandq_u8(q0, m4)));
      fn(4 * j + 1, vreinterpretq_s8_u8(vandq_u8(q1, m4)));
      fn(4 * j + 2, vreinterpretq_s8_u8(vshrq_n_u8(q0, 4)));
      fn(4 * j + 3, vreinterpretq_s8_u8(vshrq_n_u8(q1, 4)));
    }
  }
};

struct KQ5 {
  static constexpr size_t kBytes = 176;
  static constexpr bool kHasMin = true;
  static void prep(const uint8_t* b, KPrep& p) { prep_k4(b, p); }
  template <class Fn>
  static void runs(const uint8_t* b, Fn&& fn) {
    const uint8x16_t m4 = vdupq_n_u8(15), bit4 = vdupq_n_u8(16);
    uint8x16_t h0 = vld1q_u8(b + 16), h1 = vld1q_u8(b + 32);
    for (int j = 0; j < 4; ++j) {
      const uint8x16_t q0 = vld1q_u8(b + 48 + 32 * j), q1 = vld1q_u8(b + 48 + 32 * j + 16);
      fn(4 * j + 0, vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q0, m4), vandq_u8(vshlq_n_u8(h0, 4), bit4))));
      fn(4 * j + 1, vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q1, m4), vandq_u8(vshlq_n_u8(h1, 4), bit4))));
      fn(4 * j + 2, vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q0, 4), vandq_u8(vshlq_n_u8(h0, 3), bit4))));
      fn(4 * j + 3, vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q1, 4), vandq_u8(vshlq_n_u8(h1, 3), bit4))));
      h0 = vshrq_n_u8(h0, 2);
      h1 = vshrq_n_u8(h1, 2);
    }
  }
};

struct KQ6 {
  static constexpr size_t kBytes = 210;
  static constexpr bool kHasMin = false;
  static void prep(const uint8_t* b, KPrep& p) {
    p.d = load_half(b + 208);
    for (int k = 0; k < 16; ++k) p.sc[k] = static_cast<int8_t>(b[192 + k]);
  }
  template <class Fn>
  static void runs(const uint8_t* b, Fn&& fn) {
    const uint8x16_t m4 = vdupq_n_u8(15), m2 = vdupq_n_u8(0x30);
    const int8x16_t bias = vdupq_n_s8(32);
    auto level = [&](uint8x16_t low4, uint8x16_t high2) {
      return vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low4, vandq_u8(high2, m2))), bias);
    };
    for (int n = 0; n < 2; ++n) {
      const uint8_t* ql = b + 64 * n;
      const uint8_t* qh = b + 128 + 32 * n;
      for (int h = 0; h < 2; ++h) {  // 16-column halves of each 32-run
        const uint8x16_t l0 = vld1q_u8(ql + 16 * h), l1 = vld1q_u8(ql + 32 + 16 * h);
        const uint8x16_t hb = vld1q_u8(qh + 16 * h);
        fn(8 * n + 0 + h, level(vandq_u8(l0, m4), vshlq_n_u8(hb, 4)));
        fn(8 * n + 2 + h, level(vandq_u8(l1, m4), vshlq_n_u8(hb, 2)));
        fn(8 * n + 4 + h, level(vshrq_n_u8(l0, 4), hb));
        fn(8 * n + 6 + h, level(vshrq_n_u8(l1, 4), vshrq_n_u8(hb, 2)));
      }
    }
  }
};

struct KQ3 {
  static constexpr size_t kBytes = 110;
  static constexpr bool kHasMin = false;
  static void prep(const uint8_t* b, KPrep& p) {
    p.d = load_half(b + 108);
    int8_t sc[16];
    unpack_q3k_scales(b + 96, sc);
    for (int k = 0; k < 16; ++k) p.sc[k] = sc[k];
  }
  template <class Fn>
  static void runs(const uint8_t* b, Fn&& fn) {
    const uint8x16_t m2 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    const int8x16_t four = vdupq_n_s8(4);
    for (int h = 0; h < 2; ++h) {  // 16-column halves
      uint8x16_t hm = vld1q_u8(b + 16 * h);
      for (int n = 0; n < 2; ++n) {
        const uint8x16_t q = vld1q_u8(b + 32 + 32 * n + 16 * h);
        for (int j = 0; j < 4; ++j) {
          const uint8x16_t low = vandq_u8(vshlq_u8(q, vdupq_n_s8(static_cast<int8_t>(-2 * j))), m2);
          const uint8x16_t high = vshlq_n_u8(vandq_u8(hm, one), 2);
          hm = vshrq_n_u8(hm, 1);
          fn(8 * n + 2 * j + h, vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low, high)), four));
        }
      }
    }
  }
};

struct KQ2 {
  static constexpr size_t kBytes = 84;
  static constexpr bool kHasMin = true;
  static void prep(const uint8_t* b, KPrep& p) {
    p.d = load_half(b + 80);
    p.dmin = load_half(b + 82);
    for (int k = 0; k < 16; ++k) {
      p.sc[k] = b[k] & 15;
      p.mn[k] = b[k] >> 4;
    }
  }
  template <class Fn>
  static void runs(const uint8_t* b, Fn&& fn) {
    const uint8x16_t m2 = vdupq_n_u8(3);
    for (int n = 0; n < 2; ++n)
      for (int h = 0; h < 2; ++h) {
        const uint8x16_t q = vld1q_u8(b + 16 + 32 * n + 16 * h);
        for (int j = 0; j < 4; ++j) {
          const uint8x16_t v = vandq_u8(vshlq_u8(q, vdupq_n_s8(static_cast<int8_t>(-2 * j))), m2);
          fn(8 * n + 2 * j + h, vreinterpretq_s8_u8(v));
        }
      }
  }
};

template <class D, class F>
struct KQuantKernel {
  static constexpr int kBlock = 256;
  static constexpr int kVecRows = 4;
  static constexpr int kTileRows = 2;
  static constexpr int kTileTokens = 2;
  // tile<R, T> computes each (row, token) with the same operations for every R and T.
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    float32x4_t acc[R][T];
    float macc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        acc[r][t] = vdupq_n_f32(0.0f);
        macc[r][t] = 0.0f;
      }
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* xb[T];
      float dx[T];
      for (int t = 0; t < T; ++t) {
        xb[t] = x + t * xs + b * 292;
        std::memcpy(&dx[t], xb[t], 4);
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* wb = w + r * ws + b * F::kBytes;
        prefetch_ahead<F::kBytes>(wb, 2 * R * ws);
        KPrep p;
        F::prep(wb, p);
        int32x4_t isum[T];
        for (int t = 0; t < T; ++t) isum[t] = vdupq_n_s32(0);
        F::runs(wb, [&](int k, int8x16_t q) {
          for (int t = 0; t < T; ++t) {
            const int8x16_t xv = vld1q_s8(reinterpret_cast<const int8_t*>(xb[t] + 4 + 16 * k));
            isum[t] = vmlaq_n_s32(isum[t], dot<D>(vdupq_n_s32(0), q, xv), p.sc[k]);
          }
        });
        for (int t = 0; t < T; ++t) {
          acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(isum[t]), p.d * dx[t]);
          if constexpr (F::kHasMin) {
            int16_t bs[16];
            std::memcpy(bs, xb[t] + 260, sizeof bs);
            int32_t mins = 0;
            for (int k = 0; k < 16; ++k) mins += p.mn[k] * bs[k];
            macc[r][t] += p.dmin * dx[t] * static_cast<float>(mins);
          }
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = vaddvq_f32(acc[r][t]) - macc[r][t];
  }
};

}  // namespace
}  // namespace edgellm::kernels::arm
