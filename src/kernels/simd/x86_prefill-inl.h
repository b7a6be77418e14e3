// x86 kernel family, part 6: 16-row panel kernels for Q4_0, Q5_0 and Q8_0 weights on AVX-512 VNNI.
//
// One vpdpbusd computes a 4-element dot for 16 weight rows at once when dword j of every row of
// a block sits in one 512-bit vector and a token's activation dword j is broadcast against it.
// Weights come in that order either from the panel layout (panel_layout.h, repacked once at
// load) or, for row-layout matrices, from a per-call 16 x 8 dword transpose of 16 rows.
//
// Signs: vpdpbusd multiplies unsigned by signed bytes. The weights are the unsigned stored
// values (Q4_0: q = w + 8; Q5_0: w + 16; Q8_0: w + 128), the activations the signed Q8_0
// quants x, so a lane sums (w + off) x and the exact dot is that minus off * sum(x), a
// per-(token, block) constant that seeds the accumulator. Every int32 stays below 2^21: exact.
//
// Arithmetic (the level's batch-invariant one, x86_legacy_vnni-inl.h): per (row, token) the
// exact int32 dot of block b goes into chain b % 4 as fma(float(isum), d_w * d_x, c), and
// y = (c0 + c1) + (c2 + c3). Panels and row-layout tiles therefore agree bit for bit.
#pragma once

#if defined(__AVX512F__) && defined(__AVX512VNNI__)

#include <type_traits>
#include <vector>

#include "kernels/panel_layout.h"
#include "kernels/simd/driver.h"
#include "kernels/simd/x86_legacy_vnni-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// A panel block ready for the dot products: 8 vectors of unsigned weights, 16 f32 scales.
constexpr size_t kScratchBlockBytes = 8 * 64 + 64;

// The formats with panel kernels, as template arguments.
constexpr TensorType kQ4_0 = TensorType::Q4_0, kQ5_0 = TensorType::Q5_0, kQ8_0 = TensorType::Q8_0;

template <TensorType kType>
constexpr int kWeightOffset = kType == kQ4_0 ? 8 : (kType == kQ5_0 ? 16 : 128);
template <TensorType kType>
constexpr size_t kRowBlockBytes = kType == kQ4_0 ? sizeof(BlockQ4_0) : (kType == kQ5_0 ? sizeof(BlockQ5_0) : sizeof(BlockQ8_0));
template <TensorType kType>
constexpr size_t kPackedBlockBytes = kPanelRows * kRowBlockBytes<kType>;  // panel_layout.h
// The row-layout kernel's format, for the rows a call leaves to the tiles.
template <class D, TensorType kType>
using RowFormat = std::conditional_t<kType == kQ4_0, Q4_0<D>, std::conditional_t<kType == kQ5_0, Q5_0<D>, Q8_0<D>>>;

// The 32 unsigned stored weights of one GGUF block, in element order.
template <TensorType kType>
inline __m256i unsigned_block(const uint8_t* blk) {
  if constexpr (kType == kQ8_0) {
    return _mm256_xor_si256(load256(blk + 2), _mm256_set1_epi8(static_cast<char>(0x80)));
  } else {
    constexpr size_t kNibblesAt = kType == kQ5_0 ? 6 : 2;
    const __m128i q = load128(blk + kNibblesAt);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    const __m256i nibbles = _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
    if constexpr (kType == kQ5_0) {  // bit e of qh is the fifth bit of element e
      return _mm256_mask_add_epi8(nibbles, _cvtu32_mask32(load_u32(blk + 2)), nibbles, _mm256_set1_epi8(0x10));
    } else {
      return nibbles;
    }
  }
}

// Blocks [0, nb) of 16 row-layout rows (w, stride ws) -> scratch.
template <TensorType kType>
void scratch_from_rows(const uint8_t* w, size_t ws, int64_t nb, uint8_t* scratch) {
  constexpr size_t kBytes = kRowBlockBytes<kType>;
  const __m512i idx_lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i idx_hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = w + b * kBytes;
    // z[i]: row i in the low half, row i + 8 in the high half (8 dwords each).
    __m512i z[8];
    for (int i = 0; i < 8; ++i)
      z[i] = _mm512_inserti64x4(_mm512_castsi256_si512(unsigned_block<kType>(wb + i * ws)),
                                unsigned_block<kType>(wb + (i + 8) * ws), 1);
    // 16 x 8 dword transpose: out[j] = dword j of rows 0..15.
    __m512i t[8], u[8];
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
    uint8_t* sb = scratch + static_cast<size_t>(b) * kScratchBlockBytes;
    for (int a = 0; a < 4; ++a) {
      _mm512_storeu_si512(sb + 64 * a, _mm512_permutex2var_epi64(u[a], idx_lo, u[a + 4]));
      _mm512_storeu_si512(sb + 64 * (a + 4), _mm512_permutex2var_epi64(u[a], idx_hi, u[a + 4]));
    }
    alignas(32) uint16_t d[kPanelRows];
    for (int r = 0; r < kPanelRows; ++r) d[r] = static_cast<uint16_t>(load_u16(wb + r * ws));
    _mm512_storeu_ps(sb + 512, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(d))));
  }
}

// Per (token, block) of Q8_0 activation rows: the f32 scale and the seed -off * sum(x).
template <TensorType kType>
void token_constants(const uint8_t* xq, size_t xs, int64_t nt, int64_t nb, float* dx, int32_t* seed) {
  q8_0_token_constants(xq, xs, nt, nb, kWeightOffset<kType>, dx, seed);
}

// T tokens (from token t0) against one panel in scratch form; y[t * ys + r], r < 16. One chain
// at a time keeps one accumulator per token live.
template <int T>
void scratch_tokens(const uint8_t* scratch, int64_t nb, const uint8_t* xq, size_t xs, const float* dx,
                    const int32_t* seed, int64_t t0, float* y, size_t ys) {
  __m512 chain[4][T];
  for (int k = 0; k < 4; ++k) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = k; b < nb; b += 4) {
      const uint8_t* sb = scratch + static_cast<size_t>(b) * kScratchBlockBytes;
      __m512i wv[8];
      for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512(sb + 64 * j);
      const __m512 scale = _mm512_loadu_ps(sb + 512);
      for (int t = 0; t < T; ++t) {
        const size_t i = static_cast<size_t>((t0 + t) * nb + b);
        const uint8_t* xb = xq + (t0 + t) * xs + b * kQ8_0Bytes + 2;
        __m512i dot = _mm512_set1_epi32(seed[i]);
        for (int j = 0; j < 8; ++j)
          dot = _mm512_dpbusd_epi32(dot, wv[j], _mm512_set1_epi32(static_cast<int>(load_u32(xb + 4 * j))));
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
void scratch_token_tail(const uint8_t* scratch, int64_t nb, const uint8_t* xq, size_t xs, const float* dx,
                        const int32_t* seed, int64_t t0, int64_t left, float* y, size_t ys) {
  if constexpr (T > 0) {
    if (left >= T) {
      scratch_tokens<T>(scratch, nb, xq, xs, dx, seed, t0, y, ys);
    } else {
      scratch_token_tail<T - 1>(scratch, nb, xq, xs, dx, seed, t0, left, y, ys);
    }
  }
}

// Every token of the call against one panel in scratch form: 8 at a time, then 4, 2, 1.
void scratch_all_tokens(const uint8_t* scratch, int64_t nb, const uint8_t* xq, size_t xs, const float* dx,
                        const int32_t* seed, int64_t n_tokens, float* y, size_t ys) {
  constexpr int kTokens = 8;
  int64_t t = 0;
  for (; t + kTokens <= n_tokens; t += kTokens)
    scratch_tokens<kTokens>(scratch, nb, xq, xs, dx, seed, t, y + t * ys, ys);
  while (t < n_tokens) {
    const int64_t left = n_tokens - t;
    const int64_t step = left >= 4 ? 4 : (left >= 2 ? 2 : 1);
    scratch_token_tail<4>(scratch, nb, xq, xs, dx, seed, t, step, y + t * ys, ys);
    t += step;
  }
}

// Per-thread buffers of the scratch path, grown to the largest call.
struct ScratchBuffers {
  std::vector<uint8_t> panel;
  std::vector<float> dx;
  std::vector<int32_t> seed;
  std::vector<float> chains;  // the panel-pair kernel's chain sums (x86_prefill_pairs-inl.h)
  void reserve_tokens(int64_t nb, int64_t n_tokens) {
    dx.resize(static_cast<size_t>(n_tokens * nb));
    seed.resize(static_cast<size_t>(n_tokens * nb));
  }
  void reserve(int64_t nb, int64_t n_tokens) {
    panel.resize(static_cast<size_t>(nb) * kScratchBlockBytes);
    reserve_tokens(nb, n_tokens);
  }
};

inline ScratchBuffers& scratch_buffers() {
  thread_local ScratchBuffers buffers;
  return buffers;
}

// Below this many tokens the row-layout tiles are faster than transposing panels per call
// (Qwen2-0.5B shape, 1 thread, CPU-time tokens/s, tiles vs panels: 4 tokens 132 vs 85, 8: 148
// vs 134, 12: 153 vs 172, 16: 156 vs 193). Both round alike, so the choice never changes a result.
constexpr int64_t kMinPanelTokens = 12;

// MatmulFn for row-layout Q4_0 / Q5_0 / Q8_0 weights: whole 16-row panels transposed per call;
// rows past the last whole panel, and calls with fewer than kMinPanelTokens tokens, go through
// the tiles.
template <class D, TensorType kType>
void matmul_panels(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end,
                   int64_t cols, const void* xq, size_t xq_stride, int64_t n_tokens, float* y,
                   size_t y_stride) {
  const int64_t nb = cols / 32;
  const int64_t panel_end = row_begin + (row_end - row_begin) / kPanelRows * kPanelRows;
  const auto* x = static_cast<const uint8_t*>(xq);
  if (panel_end > row_begin && n_tokens >= kMinPanelTokens) {
    ScratchBuffers& s = scratch_buffers();
    s.reserve(nb, n_tokens);
    token_constants<kType>(x, xq_stride, n_tokens, nb, s.dx.data(), s.seed.data());
    for (int64_t r = row_begin; r < panel_end; r += kPanelRows) {
      scratch_from_rows<kType>(w + r * row_stride, row_stride, nb, s.panel.data());
      scratch_all_tokens(s.panel.data(), nb, x, xq_stride, s.dx.data(), s.seed.data(), n_tokens, y + r, y_stride);
    }
    row_begin = panel_end;
  }
  if (row_begin < row_end) {
    using K = LegacyChainKernel<D, RowFormat<D, kType>>;
    detail::matmul_rows<K>(w, row_stride, row_begin, row_end, cols, xq, xq_stride, n_tokens, y, y_stride);
  }
}

// How far ahead of its reads the first group of 2-4 tokens of a panel prefetches the weight
// stream into L2, in panel blocks per token of the group: the more tokens, the longer a block
// takes, the further ahead the stream must be requested. Measured on Zen 4 (quiet machine,
// A/B in alternation): 4 blocks a token (1152 B for Q4_0, 2176 B for Q8_0) beat a fixed 2 KB by
// ~5% for Q4_0 and matched it for Q8_0; 4 and 8 KB were 5-20% slower than 2 KB, no prefetch
// slower still. One-token calls (decode) take theirs from stream_tuning() (decode_stream).
constexpr size_t kPanelPrefetchBlocks = 4;
template <TensorType kType>
constexpr size_t kPanelPrefetchBytes = kPanelPrefetchBlocks * kPackedBlockBytes<kType>;

// The prefetches of a one-token call against Q4_0 / Q5_0 / Q8_0 panels. Q5_0 does without the
// NTA line (unmeasured).
template <TensorType kType>
DecodeStream decode_stream() {
  const StreamTuning& tuning = stream_tuning();
  return {.l2_ahead = tuning.legacy_l2_ahead_blocks * kPackedBlockBytes<kType>,
          .l1_ahead = kType == kQ5_0 ? 0 : tuning.legacy_l1_nta_bytes};
}

// The 8 vectors of unsigned weights of one panel block (dword r of vector j: elements
// 4j..4j+3 of row r) and its 16 scales.
template <TensorType kType>
inline __m512 panel_block(const uint8_t* pb, __m512i wv[8]) {
  if constexpr (kType == kQ8_0) {
    for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512(pb + 64 * j);
    return _mm512_cvtph_ps(load256(pb + 512));
  } else {
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    for (int j = 0; j < 4; ++j) {
      const __m512i v = _mm512_loadu_si512(pb + 64 * j);
      wv[j] = _mm512_and_si512(v, nibble);
      wv[j + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
    }
    if constexpr (kType == kQ5_0) {
      // Mask k adds the fifth bit (16) to the bytes of vector k that have it: one masked add
      // per vector, the mask loaded straight from the panel.
      const __m512i fifth = _mm512_set1_epi8(0x10);
      for (int k = 0; k < 8; ++k)
        wv[k] = _mm512_mask_add_epi8(wv[k], _cvtu64_mask64(load_u64(pb + 256 + 8 * k)), wv[k], fifth);
      return _mm512_cvtph_ps(load256(pb + 320));
    } else {
      return _mm512_cvtph_ps(load256(pb + 256));
    }
  }
}

// Expands a panel's blocks [0, nb) into scratch form (the unsigned weights and f32 scales of
// panel_block), so that a call with many tokens unpacks each block once, not once per group.
template <TensorType kType>
void scratch_from_panel(const uint8_t* panel, int64_t nb, uint8_t* scratch) {
  constexpr size_t kBytes = kPackedBlockBytes<kType>;
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_span(panel, static_cast<size_t>(b) * kBytes, static_cast<size_t>(b + 1) * kBytes,
                  4 * kPanelPrefetchBytes<kType>);
    __m512i wv[8];
    const __m512 scale = panel_block<kType>(panel + static_cast<size_t>(b) * kBytes, wv);
    uint8_t* sb = scratch + static_cast<size_t>(b) * kScratchBlockBytes;
    for (int j = 0; j < 8; ++j) _mm512_storeu_si512(sb + 64 * j, wv[j]);
    _mm512_storeu_ps(sb + 512, scale);
  }
}

// T <= 4 tokens against one panel, reading it once in block order with all four chains of
// every token live (4T accumulators): the path of every batch size. The token constants come
// from memory, so their broadcasts fold into the multiply and the seed load. kExpanded: the
// panel is in scratch form (scratch_from_panel), not the panel layout.
template <TensorType kType, int T, bool kExpanded>
struct DirectPanel {
  __m512 acc[4][T];
  const uint8_t* x[T];     // token rows (Q8_0 blocks)
  const float* dx[T];      // per block
  const int32_t* seed[T];  // per block
  size_t ahead = 0;        // prefetch distance, 0 for none
  size_t l1_ahead = 0;     // NTA prefetch distance (DecodeStream), 0 for none

  template <int K>
  inline void block(const uint8_t* panel, int64_t b) {
    constexpr size_t kBytes = kExpanded ? kScratchBlockBytes : kPackedBlockBytes<kType>;
    const uint8_t* pb = panel + static_cast<size_t>(b) * kBytes;
    if (ahead != 0) prefetch_span(panel, static_cast<size_t>(b) * kBytes, static_cast<size_t>(b + 1) * kBytes, ahead);
    if (l1_ahead != 0)
      prefetch_span<_MM_HINT_NTA>(panel, static_cast<size_t>(b) * kBytes, static_cast<size_t>(b + 1) * kBytes, l1_ahead);
    __m512i wv[8];
    __m512 scale;
    if constexpr (kExpanded) {
      for (int j = 0; j < 8; ++j) wv[j] = _mm512_loadu_si512(pb + 64 * j);
      scale = _mm512_loadu_ps(pb + 512);
    } else {
      scale = panel_block<kType>(pb, wv);
    }
    for (int t = 0; t < T; ++t) {
      const uint8_t* xb = x[t] + b * kQ8_0Bytes + 2;
      // Integer sums are exact, so splitting the 8-deep dependency chain in two (for few
      // tokens, where little else hides its latency) changes no result.
      constexpr int kSplit = T <= 2 ? 2 : 1;
      __m512i part[kSplit];
      part[0] = _mm512_set1_epi32(seed[t][b]);
      if constexpr (kSplit == 2) part[1] = _mm512_setzero_si512();
      for (int j = 0; j < 8; ++j)
        part[j % kSplit] = _mm512_dpbusd_epi32(part[j % kSplit], wv[j],
                                               _mm512_set1_epi32(static_cast<int>(load_u32(xb + 4 * j))));
      __m512i dot = part[0];
      if constexpr (kSplit == 2) dot = _mm512_add_epi32(dot, part[1]);
      acc[K][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(scale, _mm512_set1_ps(dx[t][b])), acc[K][t]);
    }
  }

  void run(const uint8_t* panel, int64_t nb, float* y, size_t ys) {
    for (int k = 0; k < 4; ++k)
      for (int t = 0; t < T; ++t) acc[k][t] = _mm512_setzero_ps();
    blocks_in_chains(nb, [&](auto chain, int64_t b) { block<decltype(chain)::value>(panel, b); });
    for (int t = 0; t < T; ++t)
      _mm512_storeu_ps(y + t * ys, _mm512_add_ps(_mm512_add_ps(acc[0][t], acc[1][t]),
                                                 _mm512_add_ps(acc[2][t], acc[3][t])));
  }
};

// Tokens [t0, t0 + T) of the call against one panel. Only the first group of a panel-layout
// panel prefetches: the later ones find it in cache (as an expanded one always does). A call of
// one token prefetches as `decode` says.
template <TensorType kType, int T, bool kExpanded>
void direct_tokens(const uint8_t* panel, int64_t nb, const uint8_t* xq, size_t xs, const ScratchBuffers& s,
                   const DecodeStream& decode, int64_t t0, float* y, size_t ys) {
  DirectPanel<kType, T, kExpanded> k;
  if (t0 == 0 && !kExpanded) {
    if constexpr (T == 1) {
      k.ahead = decode.l2_ahead;
      k.l1_ahead = decode.l1_ahead;
    } else {
      k.ahead = kPanelPrefetchBytes<kType> * T;
    }
  }
  for (int t = 0; t < T; ++t) {
    k.x[t] = xq + (t0 + t) * xs;
    k.dx[t] = s.dx.data() + (t0 + t) * nb;
    k.seed[t] = s.seed.data() + (t0 + t) * nb;
  }
  k.run(panel, nb, y + t0 * ys, ys);
}

// Every token of the call against one panel: 4 at a time, then 2, 1.
template <TensorType kType, bool kExpanded>
void direct_all_tokens(const uint8_t* panel, int64_t nb, const uint8_t* xq, size_t xs, const ScratchBuffers& s,
                       const DecodeStream& decode, int64_t n_tokens, float* y, size_t ys) {
  int64_t t = 0;
  for (; t + 4 <= n_tokens; t += 4) direct_tokens<kType, 4, kExpanded>(panel, nb, xq, xs, s, decode, t, y, ys);
  if (n_tokens - t >= 2) {
    direct_tokens<kType, 2, kExpanded>(panel, nb, xq, xs, s, decode, t, y, ys);
    t += 2;
  }
  if (t < n_tokens) direct_tokens<kType, 1, kExpanded>(panel, nb, xq, xs, s, decode, t, y, ys);
}

}  // namespace
}  // namespace edgellm::kernels::x86

#endif  // AVX-512 VNNI
