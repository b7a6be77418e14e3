// x86 kernel family, part 7: Q4_0, Q5_0 and Q8_0 on the levels other than avx512vnni (avx2,
// avxvnni, avx512), in the AVX-512 VNNI level's batch-invariant arithmetic (x86_legacy_vnni-inl.h): per
// (row, token) the exact int32 dot of block b goes into chain b % 4 as fma(float(isum), d_w * d_x,
// c), y = (c0 + c1) + (c2 + c3). So these formats give the same bits on every x86 level, and the
// 16-row panels below agree with the row-layout tile bit for bit.
//
// Why panels here: the row kernel (x86_legacy-inl.h) spends ~8 vector operations per row and
// block on unpacking, horizontal sums and scales, and on one core streamed Q4_0 at ~18-21 GB/s
// (simd_bench matvec/avx2/q4_0), about half of what DRAM gives. In a panel one broadcast
// activation dword meets 8 rows per ymm vector: a Q4_0 block of 8 rows costs 12 unpack, 8
// vpmaddubsw, 7 int16 adds, one vpmaddwd and one conversion, scale and FMA.
//
// Dot products: with AVX-VNNI (the avxvnni level) vpdpbusd of the unsigned stored weights (Q4_0
// w + 8, Q5_0 w + 16, Q8_0 w + 128) as on the VNNI level, the seed -offset * sum(x) making them
// exact. Without VNNI, vpmaddubsw against activations in -127..127 (the quantizer rounds
// x / (max|x| / 127)): the unsigned 4- and 5-bit weights add a few products up in int16 first
// (ChainFormat::kInt16Group), Q8_0's signed weights go as |w| against sign(x, w) (pairs <= 2 *
// 128 * 127 = 32512), each product widened by vpmaddwd before it is added.
#pragma once

#include <type_traits>
#include <vector>

#include "kernels/panel_layout.h"
#include "kernels/simd/driver.h"
#include "kernels/simd/x86_legacy-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// A format's place in this arithmetic on level D: its row-layout loads (x86_legacy-inl.h) and its
// panel blocks (panel_layout.h).
template <class D, TensorType kType>
struct ChainFormat {
  static_assert(kType == TensorType::Q4_0 || kType == TensorType::Q5_0 || kType == TensorType::Q8_0);
  static constexpr bool kQ8 = kType == TensorType::Q8_0;
  static constexpr bool kQ5 = kType == TensorType::Q5_0;
  using Rows = std::conditional_t<kQ8, Q8_0<D>, std::conditional_t<kQ5, Q5_0<D>, Q4_0<D>>>;
  // Signed weights against sign-adjusted activations (Q8_0 without VNNI), else unsigned.
  static constexpr bool kSigned = Rows::kSigned;
  static constexpr int kOffset = Rows::kOffset;  // the seed is -kOffset * sum(x)
  // Without VNNI, how many vpmaddubsw products of the unsigned 4-/5-bit weights add up in int16
  // before widening: a pair is at most 2 * 15 * 127 = 3810 (Q4_0) or 2 * 31 * 127 = 7874 (Q5_0),
  // so 8 or 4 of them stay below 2^15. 0: widen each (VNNI, or Q8_0's |w| x sign(x, w)).
  static constexpr int kInt16Group = D::kVnni || kQ8 ? 0 : (kQ5 ? 4 : 8);
  static constexpr size_t kPanelBlockBytes = kPanelRows * Rows::kBytes;
  static constexpr size_t kPanelMasksAt = 256;  // Q5_0's fifth-bit masks
  static constexpr size_t kPanelScalesAt = kQ8 ? 512 : (kQ5 ? 320 : 256);
};

// int32 lane sums of u * s over 4-byte groups, for the format's operands (u: weights as loaded,
// s: activations).
template <class D, class F>
inline __m256i dot_lanes(__m256i acc, __m256i u, __m256i s) {
  if constexpr (F::kSigned) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(u, u), _mm256_sign_epi8(s, u));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  } else {
    return dot_u8s8<D>(acc, u, s);
  }
}

// Row-layout tile: R <= 4 rows x T tokens, two blocks per 256-bit vector (128-bit lane k: block
// b + k, as x86_legacy-inl.h loads them). The lane-partial dots of the R rows are summed by a
// transpose-add, so lane 4k + p is row p's isum of block b + k and the conversion, scale and FMA
// run once per four rows and two blocks. acc[0] holds chains 0 and 1 (lanes 0-3, 4-7), acc[1]
// chains 2 and 3.
template <class D, TensorType kType>
struct ChainRowKernel {
  using F = ChainFormat<D, kType>;
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
    constexpr size_t kBytes = F::Rows::kBytes;
    const int64_t b1 = kSingle ? b : b + 1;
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
        // Loaded per token: the weights stay in L1, the registers for the sums (AVX2 has 16).
        const uint8_t* wr = w + p * ws;
        if (t == 0) {
          // The pair's 2 * kBytes span at most two lines (Q4_0) or three (Q8_0); the tile two
          // tiles on goes into L2. Written out: GCC 12 dropped prefetch_span's loop from this
          // kernel (no prefetch in the binary, 12 instead of 24 GB/s from DRAM for Q4_0).
          const char* ahead = reinterpret_cast<const char*>(wr + b * kBytes + kAheadTiles * R * ws);
          _mm_prefetch(ahead, _MM_HINT_T1);
          if constexpr (kBytes * 2 > 64) _mm_prefetch(ahead + 64, _MM_HINT_T1);
          _mm_prefetch(ahead + 2 * kBytes - 1, _MM_HINT_T1);
        }
        const LegacyPair q = F::Rows::load2(wr + b * kBytes, wr + b1 * kBytes);
        if (t == 0) dbits[p] = q.dbits;
        if constexpr (F::kInt16Group >= 2) {
          dot[p] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(q.lo, xlo), _mm256_maddubs_epi16(q.hi, xhi)),
                                     _mm256_set1_epi16(1));
        } else {
          dot[p] = dot_lanes<D, F>(dot_lanes<D, F>(_mm256_setzero_si256(), q.lo, xlo), q.hi, xhi);
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
      __m256i isum = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
      if constexpr (F::kOffset != 0) {
        int16_t s0, s1;
        std::memcpy(&s0, xt + nb * kQ8_0Bytes + 2 * b, 2);
        std::memcpy(&s1, xt + nb * kQ8_0Bytes + 2 * b1, 2);
        isum = _mm256_add_epi32(isum, _mm256_setr_m128i(_mm_set1_epi32(-F::kOffset * s0), _mm_set1_epi32(-F::kOffset * s1)));
      }
      const __m256 dx = spread2(halves2(load_u16(x0) | load_u16(x1) << 16));
      const __m256 next = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, dx), acc[t]);
      acc[t] = kSingle ? _mm256_blend_ps(acc[t], next, 0x0f) : next;
    }
  }
};

// T tokens against one panel (two halves of 8 rows), blocks in order with the four chains of
// every token live. One token (decode) takes both halves per block, so the weight stream from
// DRAM never pauses (half by half, the second pass read from cache while DRAM idled: Q8_0
// panels streamed 0.64 of the read bound against 0.90 in rows); more tokens (prefill, compute-
// bound) take one half at a time over the panel, half the accumulators live.
template <class D, TensorType kType, int T>
struct ChainPanel {
  using F = ChainFormat<D, kType>;
  __m256 acc[2][4][T];  // [half][chain][token]
  const uint8_t* x[T];
  const float* dx[T];
  const int32_t* seed[T];
  size_t ahead = 0;  // prefetch distance, 0 for none

  // Block b of rows 8 kHalf .. 8 kHalf + 7, into chain K.
  template <int K, int kHalf>
  inline void block(const uint8_t* panel, int64_t b) {
    constexpr size_t half = kHalf;
    const size_t at = static_cast<size_t>(b) * F::kPanelBlockBytes;
    if (ahead != 0 && half == 0) prefetch_span(panel, at, at + F::kPanelBlockBytes, ahead);
    const uint8_t* pb = panel + at;
    __m256i wv[8];  // vector j: elements 4j..4j+3 of the 8 rows, as the dot products take them
    if constexpr (!F::kQ8) {
      const __m256i nibble = _mm256_set1_epi8(0x0f);
      for (int j = 0; j < 4; ++j) {
        const __m256i v = load256(pb + 64 * j + 32 * half);
        wv[j] = _mm256_and_si256(v, nibble);
        wv[j + 4] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
      }
      if constexpr (F::kQ5) {
        // Mask k's bit 4r + i adds 16 to byte 4r + i of vector k: this half's rows are its
        // 32 bits at 4 * half bytes.
        for (int k = 0; k < 8; ++k)
          wv[k] = _mm256_or_si256(wv[k], fifth_bits<D>(load_u32(pb + F::kPanelMasksAt + 8 * k + 4 * half)));
      }
    } else {
      const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));  // stored w + 128 -> w
      for (int j = 0; j < 8; ++j) {
        wv[j] = load256(pb + 64 * j + 32 * half);
        if constexpr (F::kSigned) wv[j] = _mm256_xor_si256(wv[j], flip);
      }
    }
    const __m256 scale = _mm256_cvtph_ps(load128(pb + F::kPanelScalesAt + 16 * half));
    for (int t = 0; t < T; ++t) {
      const uint8_t* xb = x[t] + b * kQ8_0Bytes + 2;
      __m256i isum;
      if constexpr (F::kInt16Group > 0) {
        isum = _mm256_set1_epi32(seed[t][b]);
        for (int g = 0; g < 8; g += F::kInt16Group) {
          __m256i s16 = _mm256_maddubs_epi16(wv[g], broadcast_dword(xb + 4 * g));
          for (int j = g + 1; j < g + F::kInt16Group; ++j)
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(wv[j], broadcast_dword(xb + 4 * j)));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
        }
      } else {
        // Two partial chains: 8 dependent products would otherwise be one long latency chain.
        __m256i part[2] = {_mm256_set1_epi32(seed[t][b]), _mm256_setzero_si256()};
        for (int j = 0; j < 8; ++j) part[j % 2] = dot_lanes<D, F>(part[j % 2], wv[j], broadcast_dword(xb + 4 * j));
        isum = _mm256_add_epi32(part[0], part[1]);
      }
      __m256& a = acc[half][K][t];
      a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(scale, _mm256_set1_ps(dx[t][b])), a);
    }
  }

  void run(const uint8_t* panel, int64_t nb, float* y, size_t ys) {
    for (auto& half : acc)
      for (auto& chain : half)
        for (auto& a : chain) a = _mm256_setzero_ps();
    if constexpr (T == 1) {
      blocks_in_chains(nb, [&](auto chain, int64_t b) {
        block<decltype(chain)::value, 0>(panel, b);
        block<decltype(chain)::value, 1>(panel, b);
      });
    } else {
      blocks_in_chains(nb, [&](auto chain, int64_t b) { block<decltype(chain)::value, 0>(panel, b); });
      blocks_in_chains(nb, [&](auto chain, int64_t b) { block<decltype(chain)::value, 1>(panel, b); });
    }
    for (size_t half = 0; half < 2; ++half)
      for (int t = 0; t < T; ++t) {
        const auto& c = acc[half];
        _mm256_storeu_ps(y + t * ys + 8 * half,
                         _mm256_add_ps(_mm256_add_ps(c[0][t], c[1][t]), _mm256_add_ps(c[2][t], c[3][t])));
      }
  }
};

// Tokens [t0, t0 + T) against one panel.
template <class D, TensorType kType, int T>
void chain_panel_tokens(const uint8_t* panel, int64_t nb, const uint8_t* x, size_t xs, const float* dx,
                        const int32_t* seed, size_t ahead, int64_t t0, float* y, size_t ys) {
  ChainPanel<D, kType, T> k;
  for (int t = 0; t < T; ++t) {
    k.x[t] = x + (t0 + t) * xs;
    k.dx[t] = dx + (t0 + t) * nb;
    k.seed[t] = seed + (t0 + t) * nb;
  }
  k.ahead = ahead;
  k.run(panel, nb, y + t0 * ys, ys);
}

// MatmulFn for Q4_0 / Q8_0 panels (panel_layout.h) on the levels other than avx512vnni: tokens in
// groups of 4, 2 and 1; only a panel's first group prefetches (the later ones find it in
// cache), 4 blocks a token ahead; one-token calls as stream_tuning() says.
template <class D, TensorType kType>
void matmul_chain_panels(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end, int64_t cols,
                         const void* xq, size_t xq_stride, int64_t n_tokens, float* y, size_t y_stride) {
  using F = ChainFormat<D, kType>;
  constexpr size_t kAhead = 4 * F::kPanelBlockBytes;
  const int64_t nb = cols / 32;
  const auto* x = static_cast<const uint8_t*>(xq);
  thread_local std::vector<float> dx;
  thread_local std::vector<int32_t> seed;
  dx.resize(static_cast<size_t>(n_tokens * nb));
  seed.resize(static_cast<size_t>(n_tokens * nb));
  q8_0_token_constants(x, xq_stride, n_tokens, nb, F::kOffset, dx.data(), seed.data());
  const size_t decode_ahead = stream_tuning().legacy_l2_ahead_blocks * F::kPanelBlockBytes;
  for (int64_t r = row_begin; r < row_end; r += kPanelRows) {
    const uint8_t* panel = w + r * row_stride;
    float* yr = y + r;
    const auto group = [&]<int T>(std::integral_constant<int, T>, int64_t t, size_t ahead) {
      chain_panel_tokens<D, kType, T>(panel, nb, x, xq_stride, dx.data(), seed.data(), ahead, t, yr, y_stride);
    };
    if (n_tokens == 1) {
      group(std::integral_constant<int, 1>{}, 0, decode_ahead);
      continue;
    }
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) group(std::integral_constant<int, 4>{}, t, t == 0 ? 4 * kAhead : 0);
    if (n_tokens - t >= 2) {
      group(std::integral_constant<int, 2>{}, t, t == 0 ? 2 * kAhead : 0);
      t += 2;
    }
    if (t < n_tokens) group(std::integral_constant<int, 1>{}, t, t == 0 ? kAhead : 0);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86
