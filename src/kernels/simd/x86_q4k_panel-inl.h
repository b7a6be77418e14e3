// x86 kernel family: the 16-row panel kernel for Q4_K weights on AVX-512 VNNI (the layout is in
// panel_layout.h), for every token count: decode (1 token) and prefill alike. The per-token
// constants and the panel offsets serve the 256-bit levels' version too (x86_q4k_panel_ymm-inl.h).
//
// One vpdpbusd multiplies a nibble vector (dword r: 4 weights of row r) by a broadcast dword of a
// token's Q8_K activations: a 4-element dot for 16 rows. The low nibbles are used masked
// (q & 0x0f), the high ones in place (q & 0xf0 = 16 q_hi), which saves a shift per vector; the
// even sub-blocks' scales are multiplied by 16 to match, so the super-block's integer sum is
// 16 * isum, isum = sum_s sc_s * dot_s, and the float side multiplies by d_x / 16 (both powers
// of two: exactly float(isum) * d_x rounded, barring underflow).
//
// Exactness (int32, no overflow): |x| <= 128, q <= 15, so a sub-block dot is <= 32 * 15 * 128 =
// 61440 (x16 for the high nibbles: 983040, and vpdpbusd's dword partial sums stay below it);
// times a 6-bit scale (and 16 for the even ones) <= 61.9M; 8 sub-blocks <= 496M < 2^31. The min
// term sum_s m_s * (bsum_2s + bsum_2s+1) is <= 8 * 63 * 4096 = 2.1M (vpdpwssd on int16 pairs).
//
// Float arithmetic, per (row, token) and super-block in order, one accumulator:
//   acc = fma(float(16 isum), d * (d_x / 16), acc);  acc = fma(float(msum), dmin * -d_x, acc)
// Nothing depends on the token count, the token's group or the row range: batch invariant. It
// is not bit-identical to the row-layout Q4_K kernel (that one sums 16 int32 lanes as floats).
#pragma once

#include <cstring>
#include <vector>

#include "kernels/panel_layout.h"
#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// Offsets in a panel block (panel_layout.h).
constexpr size_t kQ4KPanelBlock = Q4KPanelOffsets::kBlockBytes;
constexpr size_t kQ4KD = Q4KPanelOffsets::kD, kQ4KDmin = Q4KPanelOffsets::kDmin, kQ4KLowSc = Q4KPanelOffsets::kLowScales,
                 kQ4KLowMin = Q4KPanelOffsets::kLowMins, kQ4KHigh = Q4KPanelOffsets::kHighBits;

// Per (token, super-block), computed once per call.
struct Q4KTokenConst {
  float dx16;        // d_x / 16 (the integer sum is 16 isum)
  float neg_dx;      // -d_x (the min term)
  int32_t pairs[4];  // int16 pairs of sub-block activation sums: (0,2) (1,3) (4,6) (5,7)
};

inline void q4k_token_consts(const uint8_t* xq, size_t xs, int64_t n_tokens, int64_t nb, Q4KTokenConst* out) {
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* xb = xq + static_cast<size_t>(t) * xs + static_cast<size_t>(b) * kQ8KBytes;
      float dx;
      std::memcpy(&dx, xb, 4);
      int16_t bsums[16];
      std::memcpy(bsums, xb + kQ8KSumsAt, sizeof bsums);
      int32_t sub[8];  // |sum| <= 32 * 128: an int16
      for (int s = 0; s < 8; ++s) sub[s] = bsums[2 * s] + bsums[2 * s + 1];
      Q4KTokenConst& c = out[t * nb + b];
      c.dx16 = dx * 0.0625f;
      c.neg_dx = -dx;
      const auto pair = [&](int lo, int hi) {
        return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(sub[lo])) |
                                    static_cast<uint32_t>(static_cast<uint16_t>(sub[hi])) << 16);
      };
      c.pairs[0] = pair(0, 2);
      c.pairs[1] = pair(1, 3);
      c.pairs[2] = pair(4, 6);
      c.pairs[3] = pair(5, 7);
    }
}

// How far ahead the first token group of a panel prefetches the weight stream into L2, in
// calls of 4 tokens or more: 16 super-blocks (36 KB), whatever the group size (prefill is
// compute-bound; 4 tokens x 36 KB would only crowd L2; pp128 0.83 without, 0.86 with 16).
// Calls of 2-3 tokens do not prefetch, one-token calls (decode) as stream_tuning() says.
constexpr size_t kQ4KPrefetchBytes = 16 * kQ4KPanelBlock;

#if defined(__AVX512F__) && defined(__AVX512VNNI__)

// T <= 4 tokens against one panel, reading each super-block once.
template <int T>
struct Q4KPanel {
  __m512 acc[T];
  const uint8_t* x[T];        // token rows (Q8_K blocks)
  const Q4KTokenConst* k[T];  // per super-block
  size_t ahead = 0;           // prefetch distance, 0 for none
  size_t l1_ahead = 0;        // NTA prefetch distance for decode (DecodeStream), 0 for none

  inline void block(const uint8_t* panel, int64_t b) {
    const uint8_t* pb = panel + static_cast<size_t>(b) * kQ4KPanelBlock;
    const __m512i m4 = _mm512_set1_epi8(0x0f), top2 = _mm512_set1_epi8(0x30);
    // Scales 0..3 / 4..7 as bytes 0..3 of each row's dword.
    const __m512i ls = _mm512_loadu_si512(pb + kQ4KLowSc), h = _mm512_loadu_si512(pb + kQ4KHigh);
    const __m512i sc03 = _mm512_or_si512(_mm512_and_si512(ls, m4), _mm512_and_si512(_mm512_slli_epi16(h, 4), top2));
    const __m512i sc47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ls, 4), m4),
                                         _mm512_and_si512(_mm512_slli_epi16(h, 2), top2));
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    const uint8_t* xb[T];
    for (int t = 0; t < T; ++t) xb[t] = x[t] + static_cast<size_t>(b) * kQ8KBytes + kQ8KQuantsAt;
    for (int c = 0; c < 4; ++c) {
      // Chunk c: sub-blocks 2c (low nibbles, scale x16) and 2c+1 (high nibbles, in place).
      const __m512i sc = c < 2 ? sc03 : sc47;
      const __m512i even = (c & 1) == 0 ? _mm512_and_si512(_mm512_slli_epi32(sc, 4), _mm512_set1_epi32(0x3f0))
                                        : _mm512_and_si512(_mm512_srli_epi32(sc, 12), _mm512_set1_epi32(0x3f0));
      const __m512i odd = (c & 1) == 0 ? _mm512_and_si512(_mm512_srli_epi32(sc, 8), _mm512_set1_epi32(0x3f))
                                       : _mm512_srli_epi32(sc, 24);
      // A quarter of the block's prefetches per chunk: spread out, not 36 at once (hot decode
      // 57-58 -> 59-61 GB/s, streamed unchanged within the noise).
      if (ahead != 0) prefetch_span(pb, kQ4KPanelBlock / 4 * c, kQ4KPanelBlock / 4 * (c + 1), ahead);
      if (l1_ahead != 0) prefetch_span<_MM_HINT_NTA>(pb, kQ4KPanelBlock / 4 * c, kQ4KPanelBlock / 4 * (c + 1), l1_ahead);
      // Few tokens leave the 8-deep vpdpbusd chains latency-bound: each half of the chunk gets
      // its own (integer sums are exact, so the split changes no result).
      constexpr int kSplit = T <= 2 ? 2 : 1;
      __m512i lo[kSplit][T], hi[kSplit][T];
      for (int i = 0; i < kSplit; ++i)
        for (int t = 0; t < T; ++t) lo[i][t] = hi[i][t] = _mm512_setzero_si512();
      // Half a chunk at a time: 8 weight vectors live, so 4 tokens fit in the registers.
      for (int half = 0; half < 2; ++half) {
        __m512i ql[4], qh[4];
        for (int j = 0; j < 4; ++j) {
          const __m512i q = _mm512_loadu_si512(pb + 64 * (8 * c + 4 * half + j));
          ql[j] = _mm512_and_si512(q, m4);
          qh[j] = _mm512_andnot_si512(m4, q);
        }
        const int part = half % kSplit;
        for (int t = 0; t < T; ++t) {
          const uint8_t* xc = xb[t] + 64 * c + 16 * half;
          for (int j = 0; j < 4; ++j) {
            lo[part][t] = _mm512_dpbusd_epi32(lo[part][t], ql[j], _mm512_set1_epi32(static_cast<int>(load_u32(xc + 4 * j))));
            hi[part][t] = _mm512_dpbusd_epi32(hi[part][t], qh[j],
                                              _mm512_set1_epi32(static_cast<int>(load_u32(xc + 32 + 4 * j))));
          }
        }
      }
      for (int t = 0; t < T; ++t) {
        if constexpr (kSplit == 2) {
          lo[0][t] = _mm512_add_epi32(lo[0][t], lo[1][t]);
          hi[0][t] = _mm512_add_epi32(hi[0][t], hi[1][t]);
        }
        isum[t] = _mm512_add_epi32(isum[t], _mm512_add_epi32(_mm512_mullo_epi32(lo[0][t], even),
                                                             _mm512_mullo_epi32(hi[0][t], odd)));
      }
    }
    // Mins 0..3 / 4..7 as int16 pairs (m0, m2) (m1, m3) (m4, m6) (m5, m7), matching the pairs of
    // activation sums.
    const __m512i lm = _mm512_loadu_si512(pb + kQ4KLowMin);
    const __m512i m03 = _mm512_or_si512(_mm512_and_si512(lm, m4), _mm512_and_si512(h, top2));
    const __m512i m47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(lm, 4), m4),
                                        _mm512_and_si512(_mm512_srli_epi16(h, 2), top2));
    const __m512i low_bytes = _mm512_set1_epi32(0x00ff00ff);
    const __m512i mw[4] = {_mm512_and_si512(m03, low_bytes), _mm512_srli_epi16(m03, 8),
                           _mm512_and_si512(m47, low_bytes), _mm512_srli_epi16(m47, 8)};
    const __m512 d = _mm512_cvtph_ps(load256(pb + kQ4KD)), dmin = _mm512_cvtph_ps(load256(pb + kQ4KDmin));
    for (int t = 0; t < T; ++t) {
      const Q4KTokenConst& kc = k[t][b];
      __m512i msum = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mw[0], _mm512_set1_epi32(kc.pairs[0]));
      for (int i = 1; i < 4; ++i) msum = _mm512_dpwssd_epi32(msum, mw[i], _mm512_set1_epi32(kc.pairs[i]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(kc.dx16)), acc[t]);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum), _mm512_mul_ps(dmin, _mm512_set1_ps(kc.neg_dx)), acc[t]);
    }
  }

  void run(const uint8_t* panel, int64_t nb, float* y, size_t ys) {
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) block(panel, b);
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * ys, acc[t]);
  }
};

// Tokens [t0, t0 + T) against one panel. Only the first group prefetches (when `prefetch`): the
// later ones find the panel in cache. A call of one token prefetches as `decode` says.
template <int T>
void q4k_panel_tokens(const uint8_t* panel, int64_t nb, const uint8_t* xq, size_t xs, const Q4KTokenConst* consts,
                      int64_t t0, float* y, size_t ys, bool prefetch, const DecodeStream& decode) {
  Q4KPanel<T> k;
  if (t0 == 0 && prefetch) k.ahead = kQ4KPrefetchBytes;
  if (T == 1 && t0 == 0) {
    k.ahead = decode.l2_ahead;
    k.l1_ahead = decode.l1_ahead;
  }
  for (int t = 0; t < T; ++t) {
    k.x[t] = xq + static_cast<size_t>(t0 + t) * xs;
    k.k[t] = consts + (t0 + t) * nb;
  }
  k.run(panel, nb, y + t0 * ys, ys);
}

// MatmulFn for panel-layout Q4_K weights (rows in whole panels): every panel is read once per
// group of 4 tokens (the rest as one group of 1..3); past the first group it comes from L2.
void matmul_q4k_packed(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end, int64_t cols,
                       const void* xq, size_t xq_stride, int64_t n_tokens, float* y, size_t y_stride) {
  const int64_t nb = cols / 256;
  const auto* x = static_cast<const uint8_t*>(xq);
  thread_local std::vector<Q4KTokenConst> consts;
  consts.resize(static_cast<size_t>(n_tokens * nb));
  q4k_token_consts(x, xq_stride, n_tokens, nb, consts.data());
  const Q4KTokenConst* kc = consts.data();
  const bool prefetch = n_tokens >= 4;
  const StreamTuning& tuning = stream_tuning();
  const DecodeStream decode{.l2_ahead = tuning.q4k_l2_ahead_bytes, .l1_ahead = tuning.q4k_l1_nta_bytes};
  for (int64_t r = row_begin; r < row_end; r += kPanelRows) {
    const uint8_t* panel = w + r * row_stride;
    float* yr = y + r;
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) q4k_panel_tokens<4>(panel, nb, x, xq_stride, kc, t, yr, y_stride, prefetch, decode);
    switch (n_tokens - t) {
      case 3: q4k_panel_tokens<3>(panel, nb, x, xq_stride, kc, t, yr, y_stride, prefetch, decode); break;
      case 2: q4k_panel_tokens<2>(panel, nb, x, xq_stride, kc, t, yr, y_stride, prefetch, decode); break;
      case 1: q4k_panel_tokens<1>(panel, nb, x, xq_stride, kc, t, yr, y_stride, prefetch, decode); break;
      default: break;
    }
  }
}

#endif  // AVX-512 VNNI

}  // namespace
}  // namespace edgellm::kernels::x86
