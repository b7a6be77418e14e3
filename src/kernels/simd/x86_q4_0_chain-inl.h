// x86 kernel family, part 7: Q4_0 on the levels other than avx512vnni (avx2, avxvnni, avx512), in
// the AVX-512 VNNI level's batch-invariant arithmetic (x86_legacy_vnni-inl.h): per (row, token) the exact int32
// dot of block b goes into chain b % 4 as fma(float(isum), d_w * d_x, c), y = (c0 + c1) + (c2 + c3).
// So Q4_0 gives the same bits on every x86 level, and the 16-row panels below agree with the
// row-layout tile bit for bit.
//
// Why panels here: the row kernel (x86_legacy-inl.h) spends ~8 vector operations per row and
// block on unpacking, horizontal sums and scales, and on one core streamed Q4_0 at ~18-21 GB/s
// (simd_bench matvec/avx2/q4_0), about half of what DRAM gives. In a panel one broadcast
// activation dword meets 8 rows per ymm vector: a block of 8 rows costs 12 unpack, 8 vpmaddubsw,
// 7 int16 adds, one vpmaddwd and one conversion, scale and FMA.
//
// With AVX-VNNI (the avxvnni level) the dot products are vpdpbusd as on the VNNI level.
//
// Exactness of the int16 sums (levels without VNNI): u = w + 8 is 0..15 and the Q8_0 activations are -127..127 (the
// quantizer rounds x / (max|x| / 127)), so a vpmaddubsw pair is at most 2 * 15 * 127 = 3810 in
// magnitude and the 8 products of a block sum to at most 30480 < 2^15: no saturation, no wrap.
#pragma once

#include <vector>

#include "kernels/panel_layout.h"
#include "kernels/simd/driver.h"
#include "kernels/simd/x86_legacy-inl.h"

namespace edgellm::kernels::x86 {
namespace {

constexpr size_t kQ4_0PanelBlockBytes = kPanelRows * sizeof(BlockQ4_0);  // 288: panel_layout.h
constexpr size_t kQ4_0PanelScalesAt = 256;

inline __m256i broadcast_dword(const uint8_t* p) { return _mm256_set1_epi32(static_cast<int>(load_u32(p))); }

// The 32 unsigned weights of a row-layout Q4_0 block in element order (low nibbles, then high).
inline __m256i q4_0_unsigned(const uint8_t* blk) {
  const __m128i q = load128(blk + 2);
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Per (token, block): the f32 activation scale and the seed -8 * sum(x), which makes the
// integer dot of the stored u = w + 8 the exact dot of w.
inline void q4_0_token_constants(const uint8_t* x, size_t xs, int64_t n_tokens, int64_t nb, float* dx,
                                 int32_t* seed) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const uint8_t* xt = x + t * xs;
    for (int64_t b = 0; b < nb; ++b) {
      int16_t sum;
      std::memcpy(&sum, xt + nb * kQ8_0Bytes + 2 * b, 2);
      dx[t * nb + b] = h2f(static_cast<uint16_t>(load_u16(xt + b * kQ8_0Bytes)));
      seed[t * nb + b] = -8 * sum;
    }
  }
}

// Row-layout tile: R <= 4 rows x T tokens, two blocks per 256-bit vector (128-bit lane k: block
// b + k, as x86_legacy-inl.h loads them). The lane-partial dots of the R rows are summed by a
// transpose-add, so lane 4k + p is row p's isum of block b + k and the conversion, scale and FMA
// run once per four rows and two blocks. acc[0] holds chains 0 and 1 (lanes 0-3, 4-7), acc[1]
// chains 2 and 3.
template <class D>
struct Q4_0ChainKernel {
  static constexpr int kBlock = 32;
  static constexpr int kVecRows = 4;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 2;
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb, float* y, size_t ys) {
    __m256 acc[2][T];
    for (auto& half : acc)
      for (auto& a : half) a = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
      pair<R, T, false>(w, ws, x, xs, nb, b, acc[0]);
      pair<R, T, false>(w, ws, x, xs, nb, b + 2, acc[1]);
    }
    const int64_t left = nb - b;
    if (left >= 2) pair<R, T, false>(w, ws, x, xs, nb, b, acc[0]);
    if (left == 1) pair<R, T, true>(w, ws, x, xs, nb, b, acc[0]);
    if (left == 3) pair<R, T, true>(w, ws, x, xs, nb, b + 2, acc[1]);
    for (int t = 0; t < T; ++t) {
      const __m128 c01 = _mm_add_ps(_mm256_castps256_ps128(acc[0][t]), _mm256_extractf128_ps(acc[0][t], 1));
      const __m128 c23 = _mm_add_ps(_mm256_castps256_ps128(acc[1][t]), _mm256_extractf128_ps(acc[1][t], 1));
      alignas(16) float out[4];
      _mm_store_ps(out, _mm_add_ps(c01, c23));
      for (int p = 0; p < R; ++p) y[t * ys + p] = out[p];
    }
  }

 private:
  // Blocks b and b + 1 (kSingle: block b alone, into lanes 0-3; lanes 4-7 keep their value).
  template <int R, int T, bool kSingle>
  [[gnu::always_inline]] static inline void pair(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs,
                                                 int64_t nb, int64_t b, __m256 (&acc)[T]) {
    constexpr size_t kBytes = sizeof(BlockQ4_0);
    const int64_t b1 = kSingle ? b : b + 1;
    const __m256i ones = _mm256_set1_epi16(1);
    uint32_t dbits[4] = {};
    __m256 dw = _mm256_setzero_ps();
    for (int t = 0; t < T; ++t) {
      const uint8_t* xt = x + t * xs;
      const uint8_t* x0 = xt + b * kQ8_0Bytes;
      const uint8_t* x1 = xt + b1 * kQ8_0Bytes;
      const __m256i xlo = join128(x0 + 2, x1 + 2), xhi = join128(x0 + 18, x1 + 18);
      __m256i dot[4];
      for (int p = 0; p < 4; ++p) {
        dot[p] = _mm256_setzero_si256();
        if (p >= R) continue;
        // Unpacked per token: the weights stay in L1, the registers for the sums (AVX2 has 16).
        const uint8_t* wr = w + p * ws;
        if (t == 0) {
          // The pair's 36 bytes span at most two lines; the tile two tiles on goes into L2. Written
          // out: GCC 12 dropped prefetch_span's loop from this kernel (no prefetch in the binary,
          // 12 instead of 24 GB/s from DRAM in simd_bench matvec/avx2/q4_0).
          const char* ahead = reinterpret_cast<const char*>(wr + b * kBytes + kAheadTiles * R * ws);
          _mm_prefetch(ahead, _MM_HINT_T1);
          _mm_prefetch(ahead + 35, _MM_HINT_T1);
        }
        __m256i lo, hi;
        nibbles_pair(wr + b * kBytes + 2, wr + b1 * kBytes + 2, &lo, &hi);
        if (t == 0) dbits[p] = load_u16(wr + b * kBytes) | load_u16(wr + b1 * kBytes) << 16;
        if constexpr (D::kVnni) {
          dot[p] = dot_u8s8<D>(dot_u8s8<D>(_mm256_setzero_si256(), lo, xlo), hi, xhi);
        } else {
          dot[p] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi)), ones);
        }
      }
      if (t == 0) {
        // Halves row-major (row p: block b, b + 1) to lane 4k + p, built in registers (a vector
        // load of values just stored would stall on store forwarding).
        const __m128i row_major = _mm_setr_epi32(static_cast<int>(dbits[0]), static_cast<int>(dbits[1]),
                                                 static_cast<int>(dbits[2]), static_cast<int>(dbits[3]));
        dw = _mm256_cvtph_ps(
            _mm_shuffle_epi8(row_major, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15)));
      }
      const __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(dot[0], dot[1]), _mm256_unpackhi_epi32(dot[0], dot[1]));
      const __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(dot[2], dot[3]), _mm256_unpackhi_epi32(dot[2], dot[3]));
      const __m256i isum = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
      int16_t s0, s1;
      std::memcpy(&s0, xt + nb * kQ8_0Bytes + 2 * b, 2);
      std::memcpy(&s1, xt + nb * kQ8_0Bytes + 2 * b1, 2);
      const __m256i seed = _mm256_setr_m128i(_mm_set1_epi32(-8 * s0), _mm_set1_epi32(-8 * s1));
      const __m256 dx = spread2(halves2(load_u16(x0) | load_u16(x1) << 16));
      const __m256 next = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(isum, seed)), _mm256_mul_ps(dw, dx), acc[t]);
      acc[t] = kSingle ? _mm256_blend_ps(acc[t], next, 0x0f) : next;
    }
  }
};

// T tokens against one half (8 rows) of a panel, blocks in order with the four chains of every
// token live. For T == 1 (decode) the first half prefetches the stream into L2 `ahead` bytes
// in front; the second half finds the panel in cache.
template <class D, int T>
struct Q4_0HalfPanel {
  __m256 acc[4][T];
  const uint8_t* x[T];
  const float* dx[T];
  const int32_t* seed[T];
  size_t half = 0;   // 0: rows 0-7, 1: rows 8-15
  size_t ahead = 0;  // prefetch distance, 0 for none

  template <int K>
  inline void block(const uint8_t* panel, int64_t b) {
    const size_t at = static_cast<size_t>(b) * kQ4_0PanelBlockBytes;
    if (ahead != 0) prefetch_span(panel, at, at + kQ4_0PanelBlockBytes, ahead);
    const uint8_t* pb = panel + at;
    const __m256i nibble = _mm256_set1_epi8(0x0f);
    __m256i wv[8];  // vector j: elements 4j..4j+3 of the 8 rows
    for (int j = 0; j < 4; ++j) {
      const __m256i v = load256(pb + 64 * j + 32 * half);
      wv[j] = _mm256_and_si256(v, nibble);
      wv[j + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
    }
    const __m256 scale = _mm256_cvtph_ps(load128(pb + kQ4_0PanelScalesAt + 16 * half));
    for (int t = 0; t < T; ++t) {
      const uint8_t* xb = x[t] + b * kQ8_0Bytes + 2;
      __m256i isum;
      if constexpr (D::kVnni) {
        // Two partial chains: the 8 dependent vpdpbusd would otherwise be one long latency chain.
        __m256i part[2] = {_mm256_set1_epi32(seed[t][b]), _mm256_setzero_si256()};
        for (int j = 0; j < 8; ++j) part[j % 2] = dot_u8s8<D>(part[j % 2], wv[j], broadcast_dword(xb + 4 * j));
        isum = _mm256_add_epi32(part[0], part[1]);
      } else {
        __m256i s16 = _mm256_maddubs_epi16(wv[0], broadcast_dword(xb));
        for (int j = 1; j < 8; ++j) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(wv[j], broadcast_dword(xb + 4 * j)));
        isum = _mm256_add_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), _mm256_set1_epi32(seed[t][b]));
      }
      acc[K][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(scale, _mm256_set1_ps(dx[t][b])), acc[K][t]);
    }
  }

  void run(const uint8_t* panel, int64_t nb, float* y, size_t ys) {
    for (auto& chain : acc)
      for (auto& a : chain) a = _mm256_setzero_ps();
    blocks_in_chains(nb, [&](auto chain, int64_t b) { block<decltype(chain)::value>(panel, b); });
    for (int t = 0; t < T; ++t)
      _mm256_storeu_ps(y + t * ys + 8 * half, _mm256_add_ps(_mm256_add_ps(acc[0][t], acc[1][t]),
                                                            _mm256_add_ps(acc[2][t], acc[3][t])));
  }
};

// Tokens [t0, t0 + T) against both halves of one panel.
template <class D, int T>
void q4_0_panel_tokens(const uint8_t* panel, int64_t nb, const uint8_t* x, size_t xs, const float* dx,
                       const int32_t* seed, size_t ahead, int64_t t0, float* y, size_t ys) {
  Q4_0HalfPanel<D, T> k;
  for (int t = 0; t < T; ++t) {
    k.x[t] = x + (t0 + t) * xs;
    k.dx[t] = dx + (t0 + t) * nb;
    k.seed[t] = seed + (t0 + t) * nb;
  }
  for (size_t half = 0; half < 2; ++half) {
    k.half = half;
    k.ahead = half == 0 ? ahead : 0;
    k.run(panel, nb, y + t0 * ys, ys);
  }
}

// How far ahead a panel call prefetches the weight stream into L2, per token of its first group.
constexpr size_t kQ4_0PanelAheadBytes = 4 * kQ4_0PanelBlockBytes;

// MatmulFn for Q4_0 panels (panel_layout.h) on the levels without VNNI: tokens in groups of
// 4, 2 and 1; only a panel's first group prefetches (the later ones find it in cache).
template <class D>
void matmul_q4_0_panels_ymm(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end,
                                   int64_t cols, const void* xq, size_t xq_stride, int64_t n_tokens, float* y,
                                   size_t y_stride) {
  const int64_t nb = cols / 32;
  const auto* x = static_cast<const uint8_t*>(xq);
  thread_local std::vector<float> dx;
  thread_local std::vector<int32_t> seed;
  dx.resize(static_cast<size_t>(n_tokens * nb));
  seed.resize(static_cast<size_t>(n_tokens * nb));
  q4_0_token_constants(x, xq_stride, n_tokens, nb, dx.data(), seed.data());
  const size_t decode_ahead = stream_tuning().legacy_l2_ahead_blocks * kQ4_0PanelBlockBytes;
  for (int64_t r = row_begin; r < row_end; r += kPanelRows) {
    const uint8_t* panel = w + r * row_stride;
    float* yr = y + r;
    if (n_tokens == 1) {
      q4_0_panel_tokens<D, 1>(panel, nb, x, xq_stride, dx.data(), seed.data(), decode_ahead, 0, yr, y_stride);
      continue;
    }
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4)
      q4_0_panel_tokens<D, 4>(panel, nb, x, xq_stride, dx.data(), seed.data(), t == 0 ? 4 * kQ4_0PanelAheadBytes : 0, t,
                           yr, y_stride);
    if (n_tokens - t >= 2) {
      q4_0_panel_tokens<D, 2>(panel, nb, x, xq_stride, dx.data(), seed.data(), t == 0 ? 2 * kQ4_0PanelAheadBytes : 0, t,
                           yr, y_stride);
      t += 2;
    }
    if (t < n_tokens)
      q4_0_panel_tokens<D, 1>(panel, nb, x, xq_stride, dx.data(), seed.data(), t == 0 ? kQ4_0PanelAheadBytes : 0, t, yr,
                           y_stride);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86
