// x86 kernel family, part 2: the 32-element block formats (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL)
// against Q8_0 activations.
//
// Per weight block a format yields 32 bytes u and how they relate to the weights:
//   unsigned: w = u - kOffset (kOffset 0 for Q4_1/Q5_1, whose min is a separate term), so
//     sum(w x) = sum(u x) - kOffset * sum(x); kOffset * x is summed per int32 lane once per
//     activation block (shared by all rows of the tile) and seeds the dot's accumulator.
//   signed (Q8_0, IQ4_NL): u holds int8 weights. VNNI makes them unsigned by adding 128 (xor
//     0x80, or a biased lookup table), other levels use |w| * sign(x, w) for vpmaddubsw.
// One float multiply-add per (row, token, block pair) applies d_w * d_x.
#pragma once

#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// Blocks are processed in pairs (b0, b1): vector `lo` holds elements 0..15 of b0 then of b1,
// `hi` elements 16..31 of both. Unpacking, the int32 -> f32 conversion, the scale and the FMA
// then run once per two blocks; the activations are arranged the same way once per pair and
// shared by every row of the tile. dbits / mbits carry the two fp16 scales (mins) as b0 | b1 << 16.
struct LegacyPair {
  __m256i lo, hi;
  uint32_t dbits, mbits;
};

inline uint32_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Per (token, block) of Q8_0 activation rows (the layout of kernels.h: blocks, then the int16
// block sums): the f32 scale, and the seed -offset * sum(x) that makes the integer dot of
// weights stored as w + offset the exact dot of w.
inline void q8_0_token_constants(const uint8_t* xq, size_t xs, int64_t n_tokens, int64_t nb, int offset, float* dx,
                                 int32_t* seed) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const uint8_t* xt = xq + t * xs;
    for (int64_t b = 0; b < nb; ++b) {
      int16_t sum;
      std::memcpy(&sum, xt + nb * kQ8_0Bytes + 2 * b, 2);
      dx[t * nb + b] = h2f(static_cast<uint16_t>(load_u16(xt + b * kQ8_0Bytes)));
      seed[t * nb + b] = -offset * sum;
    }
  }
}

// Both halves of two 16-byte nibble arrays: lo = low nibbles of (q0, q1), hi = high nibbles.
inline void nibbles_pair(const uint8_t* q0, const uint8_t* q1, __m256i* lo, __m256i* hi) {
  const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(q0)), load128(q1), 1);
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  *lo = _mm256_and_si256(q, m4);
  *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
}

// Two 16-byte halves from two blocks into one vector.
inline __m256i join128(const uint8_t* a, const uint8_t* b) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(load128(a)), load128(b), 1);
}

// The fifth bits of Q5_0/Q5_1 for the lo / hi vectors of a pair.
template <class D>
inline void fifth_pair(const uint8_t* qh0, const uint8_t* qh1, __m256i* lo, __m256i* hi) {
  const uint32_t a = load_u32(qh0), b = load_u32(qh1);
  *lo = _mm256_or_si256(*lo, fifth_bits<D>((a & 0xffffu) | (b << 16)));
  *hi = _mm256_or_si256(*hi, fifth_bits<D>((a >> 16) | (b & 0xffff0000u)));
}

template <class D>
struct Q4_0 {
  static constexpr size_t kBytes = sizeof(BlockQ4_0);
  static constexpr bool kSigned = false, kHasMin = false;
  static constexpr int kOffset = 8;
  static LegacyPair load2(const uint8_t* b0, const uint8_t* b1) {
    LegacyPair p{};
    nibbles_pair(b0 + 2, b1 + 2, &p.lo, &p.hi);
    p.dbits = load_u16(b0) | load_u16(b1) << 16;
    return p;
  }
};

template <class D>
struct Q4_1 {
  static constexpr size_t kBytes = sizeof(BlockQ4_1);
  static constexpr bool kSigned = false, kHasMin = true;
  static constexpr int kOffset = 0;
  static LegacyPair load2(const uint8_t* b0, const uint8_t* b1) {
    LegacyPair p{};
    nibbles_pair(b0 + 4, b1 + 4, &p.lo, &p.hi);
    p.dbits = load_u16(b0) | load_u16(b1) << 16;
    p.mbits = load_u16(b0 + 2) | load_u16(b1 + 2) << 16;
    return p;
  }
};

template <class D>
struct Q5_0 {
  static constexpr size_t kBytes = sizeof(BlockQ5_0);
  static constexpr bool kSigned = false, kHasMin = false;
  static constexpr int kOffset = 16;
  static LegacyPair load2(const uint8_t* b0, const uint8_t* b1) {
    LegacyPair p{};
    nibbles_pair(b0 + 6, b1 + 6, &p.lo, &p.hi);
    fifth_pair<D>(b0 + 2, b1 + 2, &p.lo, &p.hi);
    p.dbits = load_u16(b0) | load_u16(b1) << 16;
    return p;
  }
};

template <class D>
struct Q5_1 {
  static constexpr size_t kBytes = sizeof(BlockQ5_1);
  static constexpr bool kSigned = false, kHasMin = true;
  static constexpr int kOffset = 0;
  static LegacyPair load2(const uint8_t* b0, const uint8_t* b1) {
    LegacyPair p{};
    nibbles_pair(b0 + 8, b1 + 8, &p.lo, &p.hi);
    fifth_pair<D>(b0 + 4, b1 + 4, &p.lo, &p.hi);
    p.dbits = load_u16(b0) | load_u16(b1) << 16;
    p.mbits = load_u16(b0 + 2) | load_u16(b1 + 2) << 16;
    return p;
  }
};

template <class D>
struct Q8_0 {
  static constexpr size_t kBytes = sizeof(BlockQ8_0);
  static constexpr bool kSigned = !D::kVnni, kHasMin = false;
  static constexpr int kOffset = D::kVnni ? 128 : 0;
  static LegacyPair load2(const uint8_t* b0, const uint8_t* b1) {
    LegacyPair p{};
    p.lo = join128(b0 + 2, b1 + 2);
    p.hi = join128(b0 + 18, b1 + 18);
    if constexpr (D::kVnni) {
      const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
      p.lo = _mm256_xor_si256(p.lo, flip);
      p.hi = _mm256_xor_si256(p.hi, flip);
    }
    p.dbits = load_u16(b0) | load_u16(b1) << 16;
    return p;
  }
};

template <class D>
struct Iq4Nl {
  static constexpr size_t kBytes = sizeof(BlockIq4Nl);
  static constexpr bool kSigned = !D::kVnni, kHasMin = false;
  static constexpr int kOffset = D::kVnni ? 128 : 0;
  static LegacyPair load2(const uint8_t* b0, const uint8_t* b1) {
    // The level table, +128 for VNNI's unsigned operand.
    const __m256i lut = D::kVnni ? _mm256_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, -127, -115, -103, -90, -75, -59, -39, -15,
                                                    1, 24, 45, 63, 79, 93, 106, 118, -127, -115, -103, -90, -75, -59, -39, -15)
                                 : _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                                                    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    LegacyPair p{};
    nibbles_pair(b0 + 2, b1 + 2, &p.lo, &p.hi);
    p.lo = _mm256_shuffle_epi8(lut, p.lo);
    p.hi = _mm256_shuffle_epi8(lut, p.hi);
    p.dbits = load_u16(b0) | load_u16(b1) << 16;
    return p;
  }
};

// Two fp16 scales (b0 | b1 << 16) as floats in lanes 0 and 1.
inline __m128 halves2(uint32_t bits) { return _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(bits))); }

// [s0 s0 s0 s0 s1 s1 s1 s1] from lanes 0, 1 of s.
inline __m256 spread2(__m128 s) {
  return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}

// R rows x T tokens of one legacy format; see driver.h for the contract. Every (row, token)
// has its own accumulator and the same operations whatever R and T, so the levels without
// AVX-512 VNNI are batch-invariant. It serves Q4_1, Q5_1 and IQ4_NL there; Q4_0, Q5_0 and Q8_0
// use x86_legacy_chain-inl.h (the VNNI level's arithmetic), and the AVX-512 VNNI level
// x86_legacy_vnni-inl.h for every legacy format.
template <class D, class F>
struct LegacyKernel {
  static constexpr int kBlock = 32;
  static constexpr int kVecRows = 4;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = D::kAvx512 ? 4 : 2;
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    float sums[R][T] = {};
    pairs<R, T>(w, ws, x, xs, 0, nb, sums);
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = sums[r][t];
  }

 private:
  // Blocks [b_begin, nb) in pairs, added to sums.
  template <int R, int T>
  static void pairs(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t b_begin,
                    int64_t nb, float (*sums)[T]) {
    if (b_begin >= nb) return;
    __m256 acc[R][T];
    __m128 macc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm256_setzero_ps();
        macc[r][t] = _mm_setzero_ps();
      }
    for (int64_t b = b_begin; b < nb; b += 2) {
      // An odd last block pairs with itself; its second copy gets scale 0.
      const bool single = b + 1 == nb;
      const int64_t b1 = single ? b : b + 1;
      const uint32_t keep = single ? 0xffffu : 0xffffffffu;
      __m256i xlo[T], xhi[T], init[T];
      __m128 dx[T], sx[T];
      for (int t = 0; t < T; ++t) {
        const uint8_t* xt = x + t * xs;
        const uint8_t* x0 = xt + b * kQ8_0Bytes;
        const uint8_t* x1 = xt + b1 * kQ8_0Bytes;
        xlo[t] = join128(x0 + 2, x1 + 2);
        xhi[t] = join128(x0 + 18, x1 + 18);
        dx[t] = halves2((load_u16(x0) | load_u16(x1) << 16) & keep);
        if constexpr (F::kHasMin) {
          int16_t s0, s1;
          std::memcpy(&s0, xt + nb * kQ8_0Bytes + 2 * b, 2);
          std::memcpy(&s1, xt + nb * kQ8_0Bytes + 2 * b1, 2);
          sx[t] = _mm_mul_ps(dx[t], _mm_setr_ps(static_cast<float>(s0), static_cast<float>(s1), 0.0f, 0.0f));
        }
        // The zero-point correction -kOffset * x per int32 lane, so every lane stays an exact
        // partial dot product of its own columns (no cancellation across lanes later).
        if constexpr (F::kOffset != 0) {
          const __m256i off = _mm256_set1_epi8(static_cast<char>(F::kOffset));
          const __m256i s = dot_u8s8<D>(dot_u8s8<D>(_mm256_setzero_si256(), off, xlo[t]), off, xhi[t]);
          init[t] = _mm256_sub_epi32(_mm256_setzero_si256(), s);
        } else {
          init[t] = _mm256_setzero_si256();
        }
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* wr = w + r * ws;
        prefetch_span(wr, b * F::kBytes, (b + 2) * F::kBytes, kAheadTiles * R * ws);
        const LegacyPair p = F::load2(wr + b * F::kBytes, wr + b1 * F::kBytes);
        const __m128 dw = halves2(p.dbits);
        for (int t = 0; t < T; ++t) {
          __m256i dot;
          if constexpr (F::kSigned) {
            dot = dot_u8s8<D>(init[t], _mm256_sign_epi8(p.lo, p.lo), _mm256_sign_epi8(xlo[t], p.lo));
            dot = dot_u8s8<D>(dot, _mm256_sign_epi8(p.hi, p.hi), _mm256_sign_epi8(xhi[t], p.hi));
          } else {
            dot = dot_u8s8<D>(dot_u8s8<D>(init[t], p.lo, xlo[t]), p.hi, xhi[t]);
          }
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), spread2(_mm_mul_ps(dw, dx[t])), acc[r][t]);
          if constexpr (F::kHasMin) macc[r][t] = _mm_fmadd_ps(halves2(p.mbits), sx[t], macc[r][t]);
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) {
        const __m128 m = macc[r][t];
        sums[r][t] += hsum(acc[r][t]) + (_mm_cvtss_f32(m) + _mm_cvtss_f32(_mm_shuffle_ps(m, m, 1)));
      }
  }
};

}  // namespace
}  // namespace edgellm::kernels::x86
