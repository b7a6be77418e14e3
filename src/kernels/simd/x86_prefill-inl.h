// x86 kernel family, part 6: the prefill GEMM for Q4_0 and Q8_0 weights on AVX-512 VNNI.
//
// The generic tiles (x86_legacy-inl.h) spend more instructions on per-block scales than on
// dot products when many tokens share a weight block. Here one vpdpbusd computes a 4-element
// dot for 16 weight rows at once: the rows of a 16-row panel are repacked, once per call and
// token block, so that dword j of every row of a block sits in one 512-bit vector (a 16 x 8
// dword transpose). A token's activation dword is broadcast against it, so per (block, token)
// the panel costs 8 vpdpbusd plus one conversion, one scale product and one FMA.
//
// Signs: vpdpbusd multiplies unsigned by signed bytes. The weights are made signed (Q4_0: q - 8;
// Q8_0 already is) and the activations unsigned (x + 128, a xor of the sign bit), so each lane
// sums (x + 128) w = x w + 128 w; the panel stores -128 * sum(w) per row and block, which seeds
// the accumulator. Every int32 stays below 2^24, so results are exact up to the f32 scaling.
#pragma once

#if defined(__AVX512F__) && defined(__AVX512VNNI__)

#include <type_traits>
#include <vector>

#include "kernels/simd/driver.h"
#include "kernels/simd/x86_legacy_vnni-inl.h"

namespace edgellm::kernels::x86 {
namespace {

constexpr int kPanelRows = 16;
constexpr size_t kPanelBlockBytes = 8 * 64 + 64 + 64;  // 8 weight vectors, 16 scales, 16 corrections

// The 32 signed weights of one block, in element order.
template <bool kQ4>
inline __m256i signed_block(const uint8_t* blk) {
  if constexpr (kQ4) {
    const __m128i q = load128(blk + 2);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
  } else {
    return load256(blk + 2);
  }
}

// Repacks blocks [0, nb) of 16 rows (w, stride ws) into panel (nb * kPanelBlockBytes bytes).
template <bool kQ4>
void pack_panel(const uint8_t* w, size_t ws, int64_t nb, uint8_t* panel) {
  constexpr size_t kBytes = kQ4 ? 18 : 34;
  const __m512i idx_lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i idx_hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * kBytes;
    // z[i]: row i in the low half, row i + 8 in the high half (8 dwords each).
    __m512i z[8];
    for (int i = 0; i < 8; ++i)
      z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(signed_block<kQ4>(wb + i * ws)),
                                signed_block<kQ4>(wb + (i + 8) * ws), 1);
    // 16 x 8 dword transpose: out[j] = dword j of rows 0..15.
    __m512i t[8], u[8], out[8];
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
    }
    for (int h = 0; h < 2; ++h) {  // rows 0-3 / 8-11 (h = 0) and 4-7 / 12-15 (h = 1)
      const __m512i* th = t + 4 * h;
      u[4 * h + 0] = _mm512_unpacklo_epi64(th[0], th[2]);
      u[4 * h + 1] = _mm512_unpackhi_epi64(th[0], th[2]);
      u[4 * h + 2] = _mm512_unpacklo_epi64(th[1], th[3]);
      u[4 * h + 3] = _mm512_unpackhi_epi64(th[1], th[3]);
    }
    for (int a = 0; a < 4; ++a) {
      out[a] = _mm512_permutex2var_epi64(u[a], idx_lo, u[a + 4]);
      out[a + 4] = _mm512_permutex2var_epi64(u[a], idx_hi, u[a + 4]);
    }
    uint8_t* pb = panel + static_cast<size_t>(b) * kPanelBlockBytes;
    __m512i sum = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      _mm512_storeu_si512(pb + 64 * j, out[j]);
      sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), out[j]);
    }
    alignas(32) uint16_t d[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r) d[r] = static_cast<uint16_t>(load_u16(wb + r * ws));
    _mm512_storeu_ps(pb + 512, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d))));
    _mm512_storeu_si512(pb + 576, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(sum, 7)));
  }
}

// Tokens' Q8_0 rows -> unsigned quants (x + 128; 32 bytes a block) and f32 scales.
void pack_tokens(const uint8_t* xq, size_t xs, int64_t nt, int64_t nb, uint8_t* xu, float* dx) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t t = 0; t < nt; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* src = xq + t * xs + b * 34;
      const size_t i = static_cast<size_t>(t * nb + b);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(xu + 32 * i), _mm256_xor_si256(load256(src + 2), flip));
      dx[i] = h2f(static_cast<uint16_t>(load_u16(src)));
    }
}

// T tokens (starting at packed token t0) against one panel; y[t * ys + r], r < 16. The blocks
// go into four FMA chains by b % 4, combined as (c0 + c1) + (c2 + c3): the arithmetic of
// LegacyChainKernel (x86_legacy_vnni-inl.h), so panels and tiles agree bit for bit. One chain
// at a time keeps one accumulator per token live.
template <int T>
void panel_tokens(const uint8_t* panel, int64_t nb, const uint8_t* xu, const float* dx, int64_t t0,
                  float* y, size_t ys) {
  __m512 chain[4][T];
  for (int k = 0; k < 4; ++k) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = k; b < nb; b += 4) {
      const uint8_t* pb = panel + static_cast<size_t>(b) * kPanelBlockBytes;
      __m512i wv[8];
      for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512(pb + 64 * j);
      const __m512 scale = _mm512_loadu_ps(pb + 512);
      const __m512i corr = _mm512_loadu_si512(pb + 576);
      for (int t = 0; t < T; ++t) {
        const size_t i = static_cast<size_t>((t0 + t) * nb + b);
        const uint8_t* xb = xu + 32 * i;
        __m512i dot = corr;
        for (int j = 0; j < 8; ++j)
          dot = _mm512_dpbusd_epi32(dot, _mm512_set1_epi32(static_cast<int>(load_u32(xb + 4 * j))), wv[j]);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, _mm512_set1_ps(dx[i])), acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) chain[k][t] = acc[t];
  }
  for (int t = 0; t < T; ++t)
    _mm512_storeu_ps(y + t * ys, _mm512_add_ps(_mm512_add_ps(chain[0][t], chain[1][t]),
                                               _mm512_add_ps(chain[2][t], chain[3][t])));
}

template <int T>
void panel_token_tail(const uint8_t* panel, int64_t nb, const uint8_t* xu, const float* dx, int64_t t0,
                      int64_t left, float* y, size_t ys) {
  if constexpr (T > 0) {
    if (left >= T) {
      panel_tokens<T>(panel, nb, xu, dx, t0, y, ys);
    } else {
      panel_token_tail<T - 1>(panel, nb, xu, dx, t0, left, y, ys);
    }
  }
}

// Below this many tokens the tiles are faster than repacking panels (Qwen2-0.5B shape, 1 thread,
// CPU-time tokens/s, tiles vs panels: 4 tokens 132 vs 85, 8: 148 vs 134, 12: 153 vs 172, 16: 156
// vs 193). Both round alike, so the choice never changes a result.
constexpr int64_t kMinPanelTokens = 12;

// MatmulFn for Q4_0 (kQ4) / Q8_0 weights: 16-row panels, 8 tokens at a time; rows past the last
// whole panel, and calls with fewer than kMinPanelTokens tokens, go through the tiles.
template <class D, bool kQ4>
void matmul_panels(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end,
                   int64_t cols, const void* xq, size_t xq_stride, int64_t n_tokens, float* y,
                   size_t y_stride) {
  constexpr int kTokens = 8;
  const int64_t nb = cols / 32;
  const int64_t panel_end = row_begin + (row_end - row_begin) / kPanelRows * kPanelRows;
  if (panel_end > row_begin && n_tokens >= kMinPanelTokens) {
    thread_local std::vector<uint8_t> panel, xu;
    thread_local std::vector<float> dx;
    panel.resize(static_cast<size_t>(nb) * kPanelBlockBytes);
    xu.resize(static_cast<size_t>(n_tokens * nb) * 32);
    dx.resize(static_cast<size_t>(n_tokens * nb));
    pack_tokens(static_cast<const uint8_t*>(xq), xq_stride, n_tokens, nb, xu.data(), dx.data());
    for (int64_t r = row_begin; r < panel_end; r += kPanelRows) {
      pack_panel<kQ4>(w + r * row_stride, row_stride, nb, panel.data());
      int64_t t = 0;
      for (; t + kTokens <= n_tokens; t += kTokens)
        panel_tokens<kTokens>(panel.data(), nb, xu.data(), dx.data(), t, y + t * y_stride + r, y_stride);
      while (t < n_tokens) {  // the last < 8 tokens: 4, 2, 1 at a time
        const int64_t left = n_tokens - t;
        const int64_t step = left >= 4 ? 4 : (left >= 2 ? 2 : 1);
        panel_token_tail<4>(panel.data(), nb, xu.data(), dx.data(), t, step, y + t * y_stride + r, y_stride);
        t += step;
      }
    }
    row_begin = panel_end;
  }
  if (row_begin < row_end) {
    using K = LegacyChainKernel<D, std::conditional_t<kQ4, Q4_0<D>, Q8_0<D>>>;
    detail::matmul_rows<K>(w, row_stride, row_begin, row_end, cols, xq, xq_stride, n_tokens, y, y_stride);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86

#endif  // AVX-512 VNNI
