// x86 kernel family: Q4_K panels (panel_layout.h) on the levels without AVX-512 (avx2, avxvnni),
// in the arithmetic of the AVX-512 VNNI panel kernel (x86_q4k_panel-inl.h), so a Q4_K panel gives
// the same bits on every x86 level. A ymm vector holds a dword of 8 rows (half a panel).
//
// Per chunk of two sub-blocks (8 nibble vectors) a token's 8 vpmaddubsw of the low nibbles add up
// in int16, as do the 8 of the high nibbles (shifted down: in place they would overflow int16):
// |x| <= 128 and q <= 15, so a pair is at most 3840 and 8 of them 30720 < 2^15. One vpmaddwd
// against the sub-block scale as an int16 pair then adds sc * dot into the
// row's int32 isum, exact as on the VNNI level (that one keeps the high nibbles in place and
// sums 16 isum; float(16 isum) * (d * d_x / 16) is float(isum) * (d * d_x) exactly).
//
// Per (row, token) and super-block in order, one accumulator:
//   acc = fma(float(isum), d * d_x, acc);  acc = fma(float(msum), dmin * -d_x, acc)
#pragma once

#include <vector>

#include "kernels/simd/x86_q4k_panel-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// T tokens against one panel. One token (decode) takes both halves per super-block so the
// stream from DRAM never pauses; more tokens take one half at a time over the panel.
template <class D, int T>
struct Q4KPanelYmm {
  __m256 acc[2][T];           // [half][token]
  const uint8_t* x[T];        // token rows (Q8_K blocks)
  const Q4KTokenConst* k[T];  // per super-block
  size_t ahead = 0;           // prefetch distance, 0 for none
  size_t l1_ahead = 0;        // NTA prefetch distance for decode (DecodeStream), 0 for none

  // Super-block b of rows 8 kHalf .. 8 kHalf + 7.
  template <int kHalf>
  inline void block(const uint8_t* panel, int64_t b) {
    constexpr size_t h = 32 * kHalf;  // the half's bytes in every 64-byte vector
    const uint8_t* pb = panel + static_cast<size_t>(b) * kQ4KPanelBlock;
    const __m256i m4 = _mm256_set1_epi8(0x0f), top2 = _mm256_set1_epi8(0x30), low_byte = _mm256_set1_epi32(0xff);
    // Scales 0..3 / 4..7 as bytes 0..3 of each row's dword.
    const __m256i ls = load256(pb + kQ4KLowSc + h), hb = load256(pb + kQ4KHigh + h);
    const __m256i sc03 = _mm256_or_si256(_mm256_and_si256(ls, m4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), top2));
    const __m256i sc47 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ls, 4), m4),
                                         _mm256_and_si256(_mm256_slli_epi16(hb, 2), top2));
    __m256i isum[T];
    const uint8_t* xb[T];
    for (int t = 0; t < T; ++t) {
      isum[t] = _mm256_setzero_si256();
      xb[t] = x[t] + static_cast<size_t>(b) * kQ8KBytes + kQ8KQuantsAt;
    }
    for (int c = 0; c < 4; ++c) {
      // Chunk c: sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles); their scales as int16
      // pairs (s, s) per row.
      if constexpr (kHalf == 0) {
        if (ahead != 0) prefetch_span(pb, kQ4KPanelBlock / 4 * c, kQ4KPanelBlock / 4 * (c + 1), ahead);
        if (l1_ahead != 0)
          prefetch_span<_MM_HINT_NTA>(pb, kQ4KPanelBlock / 4 * c, kQ4KPanelBlock / 4 * (c + 1), l1_ahead);
      }
      const __m256i sc = c < 2 ? sc03 : sc47;
      const __m256i even8 = _mm256_and_si256(_mm256_srli_epi32(sc, 16 * (c & 1)), low_byte);
      const __m256i odd8 = _mm256_and_si256(_mm256_srli_epi32(sc, 16 * (c & 1) + 8), low_byte);
      const __m256i even = _mm256_or_si256(even8, _mm256_slli_epi32(even8, 16));
      const __m256i odd = _mm256_or_si256(odd8, _mm256_slli_epi32(odd8, 16));
      __m256i lo[T], hi[T];
      for (int t = 0; t < T; ++t) lo[t] = hi[t] = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        const __m256i q = load256(pb + 64 * (8 * c + j) + h);
        const __m256i ql = _mm256_and_si256(q, m4), qh = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        for (int t = 0; t < T; ++t) {
          const uint8_t* xc = xb[t] + 64 * c + 4 * j;
          lo[t] = _mm256_add_epi16(lo[t], _mm256_maddubs_epi16(ql, broadcast_dword(xc)));
          hi[t] = _mm256_add_epi16(hi[t], _mm256_maddubs_epi16(qh, broadcast_dword(xc + 32)));
        }
      }
      // One token: vpmaddwd and vpaddd even where vpdpwssd exists, whose fused form chains 8
      // latencies per super-block (avxvnni Llama-3.2-1B Q4_K_M decode 0.75 of the read bound
      // with it, 0.81 without); several tokens interleave their chains and gain from it (pp128
      // 83-84 against 79 t/s).
      for (int t = 0; t < T; ++t) {
        if constexpr (T > 1) {
          isum[t] = madd_i16<D>(madd_i16<D>(isum[t], lo[t], even), hi[t], odd);
        } else {
          isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(lo[t], even), _mm256_madd_epi16(hi[t], odd)));
        }
      }
    }
    // Mins 0..3 / 4..7 as int16 pairs (m0, m2) (m1, m3) (m4, m6) (m5, m7), matching the pairs of
    // activation sums.
    const __m256i lm = load256(pb + kQ4KLowMin + h);
    const __m256i m03 = _mm256_or_si256(_mm256_and_si256(lm, m4), _mm256_and_si256(hb, top2));
    const __m256i m47 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lm, 4), m4),
                                        _mm256_and_si256(_mm256_srli_epi16(hb, 2), top2));
    const __m256i low_bytes = _mm256_set1_epi32(0x00ff00ff);
    const __m256i mw[4] = {_mm256_and_si256(m03, low_bytes), _mm256_srli_epi16(m03, 8),
                           _mm256_and_si256(m47, low_bytes), _mm256_srli_epi16(m47, 8)};
    const __m256 d = _mm256_cvtph_ps(load128(pb + kQ4KD + 16 * kHalf));
    const __m256 dmin = _mm256_cvtph_ps(load128(pb + kQ4KDmin + 16 * kHalf));
    for (int t = 0; t < T; ++t) {
      const Q4KTokenConst& kc = k[t][b];
      __m256i msum = _mm256_setzero_si256();
      for (int i = 0; i < 4; ++i) msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mw[i], _mm256_set1_epi32(kc.pairs[i])));
      __m256& a = acc[kHalf][t];
      a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d, _mm256_set1_ps(-kc.neg_dx)), a);
      a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(dmin, _mm256_set1_ps(kc.neg_dx)), a);
    }
  }

  void run(const uint8_t* panel, int64_t nb, float* y, size_t ys) {
    for (auto& half : acc)
      for (auto& a : half) a = _mm256_setzero_ps();
    if constexpr (T == 1) {
      for (int64_t b = 0; b < nb; ++b) {
        block<0>(panel, b);
        block<1>(panel, b);
      }
    } else {
      for (int64_t b = 0; b < nb; ++b) block<0>(panel, b);
      for (int64_t b = 0; b < nb; ++b) block<1>(panel, b);
    }
    for (int half = 0; half < 2; ++half)
      for (int t = 0; t < T; ++t) _mm256_storeu_ps(y + t * ys + 8 * half, acc[half][t]);
  }
};

// Tokens [t0, t0 + T) against one panel; `ahead` / `l1_ahead` as the call's first group wants.
template <class D, int T>
void q4k_panel_tokens_ymm(const uint8_t* panel, int64_t nb, const uint8_t* xq, size_t xs,
                          const Q4KTokenConst* consts, int64_t t0, float* y, size_t ys, size_t ahead, size_t l1_ahead) {
  Q4KPanelYmm<D, T> k;
  k.ahead = ahead;
  k.l1_ahead = l1_ahead;
  for (int t = 0; t < T; ++t) {
    k.x[t] = xq + static_cast<size_t>(t0 + t) * xs;
    k.k[t] = consts + (t0 + t) * nb;
  }
  k.run(panel, nb, y + t0 * ys, ys);
}

// MatmulFn for panel-layout Q4_K weights on the levels without AVX-512: tokens in groups of 2
// (16 registers), then 1. Prefetch as the VNNI kernel does: the
// first group of 4 or more tokens 16 super-blocks ahead, one-token calls as stream_tuning() says.
template <class D>
void matmul_q4k_panels_ymm(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end, int64_t cols,
                           const void* xq, size_t xq_stride, int64_t n_tokens, float* y, size_t y_stride) {
  constexpr int kGroup = 2;
  const int64_t nb = cols / 256;
  const auto* x = static_cast<const uint8_t*>(xq);
  thread_local std::vector<Q4KTokenConst> consts;
  consts.resize(static_cast<size_t>(n_tokens * nb));
  q4k_token_consts(x, xq_stride, n_tokens, nb, consts.data());
  const Q4KTokenConst* kc = consts.data();
  const StreamTuning& tuning = stream_tuning();
  for (int64_t r = row_begin; r < row_end; r += kPanelRows) {
    const uint8_t* panel = w + r * row_stride;
    float* yr = y + r;
    if (n_tokens == 1) {
      q4k_panel_tokens_ymm<D, 1>(panel, nb, x, xq_stride, kc, 0, yr, y_stride, tuning.q4k_l2_ahead_bytes,
                                 tuning.q4k_l1_nta_bytes);
      continue;
    }
    const size_t first_ahead = n_tokens >= 4 ? kQ4KPrefetchBytes : 0;
    int64_t t = 0;
    for (; t + kGroup <= n_tokens; t += kGroup)
      q4k_panel_tokens_ymm<D, kGroup>(panel, nb, x, xq_stride, kc, t, yr, y_stride, t == 0 ? first_ahead : 0, 0);
    for (; t < n_tokens; ++t)
      q4k_panel_tokens_ymm<D, 1>(panel, nb, x, xq_stride, kc, t, yr, y_stride, t == 0 ? first_ahead : 0, 0);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86
