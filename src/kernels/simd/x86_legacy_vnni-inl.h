// x86 kernel family, part 3: the 32-element block formats on AVX-512 VNNI, in the level's one
// batch-invariant arithmetic (shared with the prefill panels of x86_prefill-inl.h).
//
// Per (row, token) the level computes, whatever the number of tokens in the call:
//   isum_b  = the exact integer dot product of block b (int32, any summation order),
//   c[b % 4] = fma(float(isum_b), d_w,b * d_x,b, c[b % 4])   for b = 0, 1, ..., nb - 1,
//   m[b % 4] = fma(m_w,b, d_x,b * float(sum x_b), m[b % 4])  (Q4_1 / Q5_1 only),
//   y = ((c0 + c1) + (c2 + c3)) [+ ((m0 + m1) + (m2 + m3))].
// Only the integer part may be reordered, so the matvec, every tile shape and the 16-row panels
// agree bit for bit. Four blocks of a row are processed per step in 512-bit vectors (128-bit
// lane k holds block b + k); the lane-partial int32 dots of four (row, token) pairs are summed
// by a transpose-add into one vector whose lane 4k + p is isum of block b + k for pair p, so
// the conversion, scale and FMA run once per four pairs and four blocks.
#pragma once

#if defined(__AVX512F__) && defined(__AVX512VNNI__)

#include <cmath>

#include "kernels/simd/x86_legacy-inl.h"

namespace edgellm::kernels::x86 {
namespace {

struct LegacyQuad {
  __m512i lo, hi;  // 128-bit lane k: elements 0..15 / 16..31 of block b + k
  uint64_t dbits, mbits;  // four fp16 scales (mins), block k in bits 16k..16k+15
};

inline __m512i join4x128(const uint8_t* a, const uint8_t* b, const uint8_t* c, const uint8_t* d) {
  const __m512i ab = _mm512_inserti32x4(_mm512_castsi128_si512(load128(a)), load128(b), 1);
  return _mm512_inserti32x4(_mm512_inserti32x4(ab, load128(c), 2), load128(d), 3);
}

inline uint64_t load_u16x4(const uint8_t* p, size_t stride) {
  return load_u16(p) | load_u16(p + stride) << 16 | static_cast<uint64_t>(load_u16(p + 2 * stride)) << 32 |
         static_cast<uint64_t>(load_u16(p + 3 * stride)) << 48;
}

// Four blocks of any format: two pair loads joined.
template <class F>
inline LegacyQuad load4_from_pairs(const uint8_t* b0) {
  const LegacyPair p = F::load2(b0, b0 + F::kBytes);
  const LegacyPair q = F::load2(b0 + 2 * F::kBytes, b0 + 3 * F::kBytes);
  LegacyQuad r;
  r.lo = _mm512_inserti64x4(_mm512_castsi256_si512(p.lo), q.lo, 1);
  r.hi = _mm512_inserti64x4(_mm512_castsi256_si512(p.hi), q.hi, 1);
  r.dbits = p.dbits | static_cast<uint64_t>(q.dbits) << 32;
  r.mbits = p.mbits | static_cast<uint64_t>(q.mbits) << 32;
  return r;
}

// Q4_0: the 64 nibble bytes of four blocks gathered once, both halves unpacked in 512 bits.
inline LegacyQuad load4_q4_0(const uint8_t* b0) {
  const __m512i q = join4x128(b0 + 2, b0 + 20, b0 + 38, b0 + 56);
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  LegacyQuad r;
  r.lo = _mm512_and_si512(q, m4);
  r.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
  r.dbits = load_u16x4(b0, 18);
  r.mbits = 0;
  return r;
}

// Four fp16 values (value k in bits 16k..) as floats in lanes 0..3.
inline __m128 halves4(uint64_t bits) { return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(bits))); }

// [s0 x4, s1 x4, s2 x4, s3 x4] from lanes 0..3 of s: lane 4k + p gets block k's value.
inline __m512 spread4(__m128 s) {
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                               _mm512_castps128_ps512(s));
}

// Lane 4k + p of the result = sum of lanes 4k..4k+3 of d[p] (the transpose-add).
inline __m512i reduce4(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

// Sixteen fp16 scales given row-major (row p's four in u64 p) as floats in lane 4k + p. Built
// in registers: a vector load of the u64s just stored would stall on store forwarding.
inline __m512 scales_by_block(uint64_t r0, uint64_t r1, uint64_t r2, uint64_t r3) {
  const __m128i r01 = _mm_insert_epi64(_mm_cvtsi64_si128(static_cast<long long>(r0)), static_cast<long long>(r1), 1);
  const __m128i r23 = _mm_insert_epi64(_mm_cvtsi64_si128(static_cast<long long>(r2)), static_cast<long long>(r3), 1);
  const __m256i row_major = _mm256_inserti128_si256(_mm256_castsi128_si256(r01), r23, 1);
  const __m256i block_major = _mm256_permutexvar_epi16(
      _mm256_setr_epi16(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), row_major);
  return _mm512_cvtph_ps(block_major);
}

// The exact integer dot of one block (the tail blocks past the last whole quad).
template <class F>
inline int block_isum(const uint8_t* wb, const uint8_t* xb) {
  const LegacyPair p = F::load2(wb, wb);
  const __m128i xlo = load128(xb + 2), xhi = load128(xb + 18);
  __m128i dot = _mm_setzero_si128();
  if constexpr (F::kOffset != 0) {
    const __m128i off = _mm_set1_epi8(static_cast<char>(F::kOffset));
    dot = _mm_sub_epi32(dot, _mm_dpbusd_epi32(_mm_dpbusd_epi32(_mm_setzero_si128(), off, xlo), off, xhi));
  }
  dot = _mm_dpbusd_epi32(_mm_dpbusd_epi32(dot, _mm256_castsi256_si128(p.lo), xlo), _mm256_castsi256_si128(p.hi), xhi);
  dot = _mm_add_epi32(dot, _mm_shuffle_epi32(dot, 0x4e));
  dot = _mm_add_epi32(dot, _mm_shuffle_epi32(dot, 0xb1));
  return _mm_cvtsi128_si32(dot);
}

// The final sum of the four chains; shared with the panels.
inline float combine_chains(float c0, float c1, float c2, float c3) { return (c0 + c1) + (c2 + c3); }

// R rows x T tokens of one legacy format; see driver.h for the contract. Rows go in groups of
// four (a group of R < 4 rows is padded with zero dots).
template <class D, class F>
struct LegacyChainKernel {
  static constexpr int kBlock = 32;
  static constexpr int kVecRows = 8;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 4;
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    constexpr int G = (R + 3) / 4;
    __m512 acc[G][T];  // lane 4k + p: chain k of row 4g + p
    __m128 macc[R][T];  // lane k: min chain k
    for (int g = 0; g < G; ++g)
      for (int t = 0; t < T; ++t) acc[g][t] = _mm512_setzero_ps();
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) macc[r][t] = _mm_setzero_ps();
    const int64_t end = nb / 4 * 4;
    for (int64_t b = 0; b < end; b += 4) {
      __m512i xlo[T], xhi[T], init[T];
      __m512 dx[T];
      __m128 sx[T];
#pragma GCC unroll 4
      for (int t = 0; t < T; ++t) {
        const uint8_t* xb = x + t * xs + b * kQ8_0Bytes;
        xlo[t] = join4x128(xb + 2, xb + 36, xb + 70, xb + 104);
        xhi[t] = join4x128(xb + 18, xb + 52, xb + 86, xb + 120);
        const __m128 dx4 = halves4(load_u16x4(xb, kQ8_0Bytes));
        dx[t] = spread4(dx4);
        if constexpr (F::kHasMin) {
          const __m128i s16 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + t * xs + nb * kQ8_0Bytes + 2 * b));
          sx[t] = _mm_mul_ps(dx4, _mm_cvtepi32_ps(_mm_cvtepi16_epi32(s16)));
        }
        init[t] = _mm512_setzero_si512();
        if constexpr (F::kOffset != 0) {
          const __m512i off = _mm512_set1_epi8(static_cast<char>(F::kOffset));
          init[t] = _mm512_sub_epi32(init[t], _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init[t], off, xlo[t]), off, xhi[t]));
        }
      }
#pragma GCC unroll 2
      for (int g = 0; g < G; ++g) {
        LegacyQuad q[4] = {};
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          const int r = 4 * g + p;
          if (r >= R) continue;
          const uint8_t* wr = w + r * ws;
          prefetch_span(wr, b * F::kBytes, (b + 4) * F::kBytes, kAheadTiles * R * ws);
          q[p] = load4(wr + b * F::kBytes);
        }
        const __m512 dw = scales_by_block(q[0].dbits, q[1].dbits, q[2].dbits, q[3].dbits);
#pragma GCC unroll 4
        for (int t = 0; t < T; ++t) {
          __m512i dot[4];
#pragma GCC unroll 4
          for (int p = 0; p < 4; ++p)
            dot[p] = 4 * g + p < R ? _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init[t], q[p].lo, xlo[t]), q[p].hi, xhi[t])
                                   : _mm512_setzero_si512();
          const __m512i isum = reduce4(dot[0], dot[1], dot[2], dot[3]);
          acc[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, dx[t]), acc[g][t]);
          if constexpr (F::kHasMin)
            for (int p = 0; p < 4 && 4 * g + p < R; ++p)
              macc[4 * g + p][t] = _mm_fmadd_ps(halves4(q[p].mbits), sx[t], macc[4 * g + p][t]);
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int g = 0; g < G; ++g) {
        alignas(64) float c[16];
        _mm512_store_ps(c, acc[g][t]);
        for (int p = 0; p < 4 && 4 * g + p < R; ++p) {
          const int r = 4 * g + p;
          alignas(16) float m[4];
          _mm_store_ps(m, macc[r][t]);
          const uint8_t* wr = w + r * ws;
          const uint8_t* xt = x + t * xs;
          for (int64_t b = end; b < nb; ++b) {  // the last nb % 4 blocks, chain b - end
            const uint8_t* wb = wr + b * F::kBytes;
            const uint8_t* xb = xt + b * kQ8_0Bytes;
            const float dxb = h2f(static_cast<uint16_t>(load_u16(xb)));
            const int k = static_cast<int>(b - end);
            float& ck = c[4 * k + p];
            ck = std::fma(static_cast<float>(block_isum<F>(wb, xb)), h2f(static_cast<uint16_t>(load_u16(wb))) * dxb, ck);
            if constexpr (F::kHasMin) {
              int16_t s;
              std::memcpy(&s, xt + nb * kQ8_0Bytes + 2 * b, 2);
              m[k] = std::fma(h2f(static_cast<uint16_t>(load_u16(wb + 2))), dxb * static_cast<float>(s), m[k]);
            }
          }
          float sum = combine_chains(c[p], c[4 + p], c[8 + p], c[12 + p]);
          if constexpr (F::kHasMin) sum += combine_chains(m[0], m[1], m[2], m[3]);
          y[t * ys + r] = sum;
        }
      }
  }

 private:
  static LegacyQuad load4(const uint8_t* b0) {
    if constexpr (F::kBytes == 18 && F::kOffset == 8) {
      return load4_q4_0(b0);
    } else {
      return load4_from_pairs<F>(b0);
    }
  }
};

}  // namespace
}  // namespace edgellm::kernels::x86

#endif  // AVX-512 VNNI
