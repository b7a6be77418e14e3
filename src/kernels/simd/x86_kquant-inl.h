// x86 kernel family, part 3: K-quants (Q2_K Q3_K Q4_K Q5_K Q6_K) against Q8_K activations.
//
// A super-block of 256 weights is walked in 8 groups of 32. Each format yields per group 32
// unsigned bytes u (its quants, biased to be non-negative) and an int16 scale vector for the
// maddubs pair sums (all 16 lanes the same for the 32-wide sub-blocks of Q4_K/Q5_K; low 8 lanes
// sub-block 2g, high 8 lanes 2g+1 for the 16-wide ones). The integer sum over the super-block
// stays in int32 lanes; then, per super-block:
//   bias    (Q3_K: 4, Q6_K: 32): isum -= bias * sum_k scale_k * bsum_k   (exact, in int32)
//   min     (Q2_K Q4_K Q5_K):    acc  -= dmin * d_x * sum_k min_k * bsum_k
//   acc += d * d_x * isum
#pragma once

#include <type_traits>

#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// pshufb masks picking int16 lane g of each 128-bit half, broadcast over the half.
inline __m256i pick16(__m256i source, int g) {
  const __m256i idx = _mm256_set1_epi16(static_cast<int16_t>((2 * g) | ((2 * g + 1) << 8)));
  return _mm256_shuffle_epi8(source, idx);
}

// Scales for the 16-wide formats: 16 int8 -> [even int16 | odd int16] (pick16 source) and the
// natural-order int16 vector (for the bsums terms).
inline void split_scales16(__m128i s8, __m256i* pick_source, __m256i* natural) {
  const __m128i evens_odds = _mm_shuffle_epi8(s8, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  *pick_source = _mm256_cvtepi8_epi16(evens_odds);
  *natural = _mm256_cvtepi8_epi16(s8);
}

// Q4_K / Q5_K: the 12 packed bytes -> 8 scales (bytes 0..7) and 8 mins (8..15), four bytes at
// a time: words 0/1 keep the six low bits of scales / mins 0..3; scales / mins 4..7 take their
// low four bits from word 2 and their top two from bits 6..7 of words 0 / 1.
inline __m128i k4_scales_mins(const uint8_t* s12) {
  const uint32_t w0 = load_u32(s12), w1 = load_u32(s12 + 4), w2 = load_u32(s12 + 8);
  constexpr uint32_t low6 = 0x3f3f3f3fu, low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
  const uint32_t sc_lo = w0 & low6;
  const uint32_t sc_hi = (w2 & low4) | (((w0 >> 6) & low2) << 4);
  const uint32_t mn_lo = w1 & low6;
  const uint32_t mn_hi = ((w2 >> 4) & low4) | (((w1 >> 6) & low2) << 4);
  return _mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi), static_cast<int>(mn_lo),
                        static_cast<int>(mn_hi));
}

inline void k4_scales(const uint8_t* s12, __m256i* pick_source, __m256i* mins_pairs) {
  const __m128i v = k4_scales_mins(s12);
  *pick_source = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(v));
  // mins for the bsums pairs: [m0 m0 m1 m1 ... m7 m7] as int16
  *mins_pairs = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v));
}

struct KPrep {
  float d = 0, dmin = 0;
  __m256i pick;        // pick16 source
  __m256i corr;        // int16 multipliers of the bsums (scales or mins)
};

struct KQ4 {
  static constexpr size_t kBytes = 144;
  static constexpr int kBias = 0;
  static constexpr bool kHasMin = true;
  static KPrep prep(const uint8_t* b) {
    KPrep p;
    uint16_t dd[2];
    std::memcpy(dd, b, 4);
    p.d = h2f(dd[0]);
    p.dmin = h2f(dd[1]);
    k4_scales(b + 4, &p.pick, &p.corr);
    return p;
  }
  template <class Fn>
  static void groups(const uint8_t* b, Fn&& fn) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load256(b + 16 + 32 * j);
      fn(2 * j, _mm256_and_si256(q, m4));
      fn(2 * j + 1, _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
    }
  }
  static __m256i scale(const KPrep& p, int g) { return pick16(p.pick, g); }
};

struct KQ5 {
  static constexpr size_t kBytes = 176;
  static constexpr int kBias = 0;
  static constexpr bool kHasMin = true;
  static KPrep prep(const uint8_t* b) { return KQ4::prep(b); }
  template <class Fn>
  static void groups(const uint8_t* b, Fn&& fn) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    __m256i qh = load256(b + 16);
    for (int j = 0; j < 4; ++j) {
      const __m256i q = load256(b + 48 + 32 * j);
      const __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(qh, 4), bit4);
      const __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(qh, 3), bit4);
      qh = _mm256_srli_epi16(qh, 2);
      fn(2 * j, _mm256_or_si256(_mm256_and_si256(q, m4), h0));
      fn(2 * j + 1, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1));
    }
  }
  static __m256i scale(const KPrep& p, int g) { return pick16(p.pick, g); }
};

struct KQ6 {
  static constexpr size_t kBytes = 210;
  static constexpr int kBias = 32;
  static constexpr bool kHasMin = false;
  static KPrep prep(const uint8_t* b) {
    KPrep p;
    uint16_t d;
    std::memcpy(&d, b + 208, 2);
    p.d = h2f(d);
    split_scales16(load128(b + 192), &p.pick, &p.corr);
    return p;
  }
  template <class Fn>
  static void groups(const uint8_t* b, Fn&& fn) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i m2 = _mm256_set1_epi8(0x30);
    for (int n = 0; n < 2; ++n) {
      const __m256i ql0 = load256(b + 64 * n);
      const __m256i ql1 = load256(b + 64 * n + 32);
      const __m256i qh = load256(b + 128 + 32 * n);
      fn(4 * n + 0, _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2)));
      fn(4 * n + 1, _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2)));
      fn(4 * n + 2, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, m2)));
      fn(4 * n + 3, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                    _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2)));
    }
  }
  static __m256i scale(const KPrep& p, int g) { return pick16(p.pick, g); }
};

struct KQ3 {
  static constexpr size_t kBytes = 110;
  static constexpr int kBias = 4;
  static constexpr bool kHasMin = false;
  static KPrep prep(const uint8_t* b) {
    KPrep p;
    uint16_t d;
    std::memcpy(&d, b + 108, 2);
    p.d = h2f(d);
    // Word-parallel unpack (no byte stores reloaded as a vector: that stalls store forwarding):
    // low nibbles from words 0/1 (scales 0..7 low, 8..15 high), two top bits from word 2.
    const uint32_t w0 = load_u32(b + 96), w1 = load_u32(b + 100), w2 = load_u32(b + 104);
    constexpr uint32_t low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
    const __m128i biased = _mm_setr_epi32(static_cast<int>((w0 & low4) | ((w2 & low2) << 4)),
                                          static_cast<int>((w1 & low4) | (((w2 >> 2) & low2) << 4)),
                                          static_cast<int>(((w0 >> 4) & low4) | (((w2 >> 4) & low2) << 4)),
                                          static_cast<int>(((w1 >> 4) & low4) | (((w2 >> 6) & low2) << 4)));
    split_scales16(_mm_sub_epi8(biased, _mm_set1_epi8(32)), &p.pick, &p.corr);
    return p;
  }
  template <class Fn>
  static void groups(const uint8_t* b, Fn&& fn) {
    const __m256i m2 = _mm256_set1_epi8(3);
    const __m256i bit2 = _mm256_set1_epi8(4);
    __m256i hm = load256(b);
    for (int n = 0; n < 2; ++n) {
      const __m256i q = load256(b + 32 + 32 * n);
      for (int j = 0; j < 4; ++j) {
        const __m256i low = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m2);
        const __m256i high = _mm256_and_si256(_mm256_slli_epi16(hm, 2), bit2);
        hm = _mm256_srli_epi16(hm, 1);
        fn(4 * n + j, _mm256_or_si256(low, high));
      }
    }
  }
  static __m256i scale(const KPrep& p, int g) { return pick16(p.pick, g); }
};

struct KQ2 {
  static constexpr size_t kBytes = 84;
  static constexpr int kBias = 0;
  static constexpr bool kHasMin = true;
  static KPrep prep(const uint8_t* b) {
    KPrep p;
    uint16_t dd[2];
    std::memcpy(dd, b + 80, 4);
    p.d = h2f(dd[0]);
    p.dmin = h2f(dd[1]);
    const __m128i s = load128(b);
    __m256i unused;
    split_scales16(_mm_and_si128(s, _mm_set1_epi8(0x0f)), &p.pick, &unused);
    p.corr = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0f)));
    return p;
  }
  template <class Fn>
  static void groups(const uint8_t* b, Fn&& fn) {
    const __m256i m2 = _mm256_set1_epi8(3);
    for (int n = 0; n < 2; ++n) {
      const __m256i q = load256(b + 16 + 32 * n);
      for (int j = 0; j < 4; ++j) fn(4 * n + j, _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m2));
    }
  }
  static __m256i scale(const KPrep& p, int g) { return pick16(p.pick, g); }
};

#if defined(__AVX512F__) && defined(__AVX512BW__)
// Q4_K on AVX-512 (most of a Q4_K_M model's weights, so it gets its own kernel). The vector
// units are the limit, so the work per super-block and row is cut down:
//   - 512-bit products covering two 32-weight sub-blocks each: the low nibbles of quant bytes
//     0..63 are sub-blocks (0, 2), their high nibbles (1, 3), those of bytes 64..127 (4, 6) and
//     (5, 7). The activations are rearranged to match once per super-block and token (Q4KAct)
//     and shared by the rows of a tile. Per row: 4 maddubs and 4 int16 x scale multiply-adds
//     in one chain, the scale vectors made by 4 byte shuffles;
//   - the 6-bit scales / mins unpacked in scalar registers (the integer units are idle);
//   - the min term sum_j min_j * bsum-pair_j as one 128-bit madd.
// Measured on Zen 4, cache-resident: 22 -> 30 GB/s of weights per core.
// Per (row, token) the arithmetic is the same for every tile shape (exact integer sums, one
// f32 multiply-add per super-block into a 16-lane and a 4-lane accumulator, horizontal sums
// at the end), so matvec, tiles and tails agree bit for bit.
struct Q4KAct {
  __m512i x[4];       // activations of sub-blocks (0,2) (1,3) (4,6) (5,7)
  __m128i pair_sums;  // int16 activation sums per 32-weight sub-block (bsums added in pairs)
  __m128 dx;          // [d_x, -d_x, 0, 0]
};

inline Q4KAct q4k_act(const uint8_t* xb) {
  Q4KAct a;
  for (int k = 0; k < 4; ++k) {
    const uint8_t* base = xb + kQ8KQuantsAt + 128 * (k / 2) + 32 * (k % 2);
    a.x[k] = _mm512_inserti64x4(_mm512_castsi256_si512(load256(base)), load256(base + 64), 1);
  }
  a.pair_sums = _mm_hadd_epi16(load128(xb + kQ8KSumsAt), load128(xb + kQ8KSumsAt + 16));
  float dx;
  std::memcpy(&dx, xb, 4);
  a.dx = _mm_setr_ps(dx, -dx, 0.0f, 0.0f);
  return a;
}

template <class D>
inline __m512i dot_u8s8_scaled512(__m512i acc, __m512i u, __m512i s, __m512i scale16) {
  const __m512i p = _mm512_maddubs_epi16(u, s);
  if constexpr (D::kVnni) {
    return _mm512_dpwssd_epi32(acc, p, scale16);
  } else {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, scale16));
  }
}

// One super-block of one row against T tokens: acc[t] += d * d_x * sum_j scale_j * dot_j,
// macc[t] -= dmin * d_x * sum_j min_j * bsum-pair_j.
template <class D, int T>
inline void q4k_block(const uint8_t* wb, const Q4KAct* act, __m512* acc, __m128* macc) {
  const uint32_t w0 = load_u32(wb + 4), w1 = load_u32(wb + 8), w2 = load_u32(wb + 12);
  constexpr uint32_t low6 = 0x3f3f3f3fu, low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
  const uint64_t sc = (w0 & low6) | uint64_t{(w2 & low4) | (((w0 >> 6) & low2) << 4)} << 32;
  const uint64_t mn = (w1 & low6) | uint64_t{((w2 >> 4) & low4) | (((w1 >> 6) & low2) << 4)} << 32;
  // Scale vectors: scale a as int16 in the low 256 bits, scale b in the high (pshufb index
  // 0x80 zeroes the high byte of each word).
  const __m512i sc_all = _mm512_broadcast_i32x4(_mm_cvtsi64_si128(static_cast<long long>(sc)));
  auto pick = [&](int a, int b) {
    const auto ia = static_cast<short>(0x8000 | a), ib = static_cast<short>(0x8000 | b);
    return _mm512_shuffle_epi8(sc_all, _mm512_set_epi16(ib, ib, ib, ib, ib, ib, ib, ib, ib, ib, ib, ib, ib, ib, ib, ib,
                                                        ia, ia, ia, ia, ia, ia, ia, ia, ia, ia, ia, ia, ia, ia, ia, ia));
  };
  const __m512i s02 = pick(0, 2), s13 = pick(1, 3), s46 = pick(4, 6), s57 = pick(5, 7);
  const __m128i mins16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(mn)));
  const __m128 d_dmin = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(wb))));  // [d, dmin, 0, 0]
  const __m512i m4 = _mm512_set1_epi8(0x0f);
  const __m512i q0 = _mm512_loadu_si512(wb + 16), q1 = _mm512_loadu_si512(wb + 80);
  const __m512i u02 = _mm512_and_si512(q0, m4), u13 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
  const __m512i u46 = _mm512_and_si512(q1, m4), u57 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
  for (int t = 0; t < T; ++t) {
    const Q4KAct& a = act[t];
    // One chain: throughput, not latency, limits this loop (two chains and an add were slower).
    __m512i isum = dot_u8s8_scaled512<D>(_mm512_setzero_si512(), u02, a.x[0], s02);
    isum = dot_u8s8_scaled512<D>(isum, u13, a.x[1], s13);
    isum = dot_u8s8_scaled512<D>(isum, u46, a.x[2], s46);
    isum = dot_u8s8_scaled512<D>(isum, u57, a.x[3], s57);
    const __m128 f = _mm_mul_ps(d_dmin, a.dx);  // [d * d_x, -dmin * d_x, 0, 0]
    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(f), acc[t]);
    const __m128i corr = _mm_madd_epi16(mins16, a.pair_sums);
    macc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(corr), _mm_shuffle_ps(f, f, 0x55), macc[t]);
  }
}

// Lanes i + (i + 8), then hsum(). (Through memory: GCC 12's 512 -> 256-bit cast trips its own
// -Wuninitialized, bug 105593; this runs once per output.)
inline float hsum512(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  return hsum(_mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8)));
}

inline float hsum128(__m128 s) {
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <class D>
struct Q4KWideKernel {
  static constexpr int kBlock = 256;
  static constexpr int kVecRows = 16;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = 3;
  static constexpr bool kBatchInvariant = true;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    __m512 acc[R][T];
    __m128 macc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm512_setzero_ps();
        macc[r][t] = _mm_setzero_ps();
      }
    // As KQuantKernel: one token streams each row's blocks in turn, several tokens walk every
    // row per block (the activations prepared once); each (row, token) sums in block order.
    const auto step = [&](int r, int64_t b, const Q4KAct* act) {
      prefetch_span(w + r * ws, b * 144, (b + 1) * 144, kAheadTiles * R * ws);
      q4k_block<D, T>(w + r * ws + b * 144, act, acc[r], macc[r]);
    };
    if constexpr (T == 1) {
      for (int r = 0; r < R; ++r)
        for (int64_t b = 0; b < nb; ++b) {
          const Q4KAct act = q4k_act(x + b * kQ8KBytes);
          step(r, b, &act);
        }
    } else {
      for (int64_t b = 0; b < nb; ++b) {
        Q4KAct act[T];
        for (int t = 0; t < T; ++t) act[t] = q4k_act(x + t * xs + b * kQ8KBytes);
        for (int r = 0; r < R; ++r) step(r, b, act);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = hsum512(acc[r][t]) + hsum128(macc[r][t]);
  }
};
#endif

// The integer sums of one super-block against T tokens, before the bsums correction: lane k of
// token t's vector adds up lane k of every group's scaled dot. Even and odd groups go into two
// chains (half the dependent multiply-add latency). A format may provide F::wide_sums<D, T>
// with the same lane sums computed another way (KQ6Wide).
template <class D, class F, int T>
inline void group_sums(const uint8_t* wb, const KPrep& p, const uint8_t* const* xb, __m256i* isum) {
  if constexpr (requires { F::template wide_sums<D, T>(wb, p, xb, isum); }) {
    F::template wide_sums<D, T>(wb, p, xb, isum);
  } else {
    __m256i isum_odd[T];
    for (int t = 0; t < T; ++t) isum[t] = isum_odd[t] = _mm256_setzero_si256();
    F::groups(wb, [&](int g, __m256i u) {
      const __m256i sc = F::scale(p, g);
      for (int t = 0; t < T; ++t) {
        __m256i& chain = (g & 1) ? isum_odd[t] : isum[t];
        chain = dot_u8s8_scaled<D>(chain, u, load256(xb[t] + kQ8KQuantsAt + 32 * g), sc);
      }
    });
    for (int t = 0; t < T; ++t) isum[t] = _mm256_add_epi32(isum[t], isum_odd[t]);
  }
}

template <class D, class F>
struct KQuantKernel {
  static constexpr int kBlock = 256;
  // 16 rows per matvec tile on AVX-512: more rows in flight (and prefetched 2 tiles ahead)
  // streamed Q4_K at 0.72 -> 0.74 and Q6_K at 0.88 -> 0.99 of the read bandwidth (8 rows: 0.72 / 0.88).
  static constexpr int kVecRows = D::kAvx512 ? 16 : 4;
  static constexpr int kTileRows = D::kAvx512 ? 4 : 2;
  static constexpr int kTileTokens = D::kAvx512 ? 3 : 2;
  // tile<R, T> computes each (row, token) with the same operations for every R and T.
  static constexpr bool kBatchInvariant = true;

  // Super-block b of one row (wr) against T tokens: acc[t] += its scaled sums.
  template <int T>
  static inline void block(const uint8_t* wr, const uint8_t* x, size_t xs, int64_t b, size_t ahead, __m256* acc) {
    const uint8_t* xb[T];
    float dx[T];
    for (int t = 0; t < T; ++t) {
      xb[t] = x + t * xs + b * kQ8KBytes;
      std::memcpy(&dx[t], xb[t], 4);
    }
    const uint8_t* wb = wr + b * F::kBytes;
    prefetch_span(wr, b * F::kBytes, (b + 1) * F::kBytes, ahead);
    const KPrep p = F::prep(wb);
    __m256i isum[T];
    group_sums<D, F, T>(wb, p, xb, isum);
    for (int t = 0; t < T; ++t) {
      const __m256i corr = _mm256_madd_epi16(load256(xb[t] + kQ8KSumsAt), p.corr);
      if constexpr (F::kBias != 0)
        isum[t] = _mm256_sub_epi32(isum[t], _mm256_mullo_epi32(corr, _mm256_set1_epi32(F::kBias)));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_set1_ps(p.d * dx[t]), acc[t]);
      if constexpr (F::kHasMin)
        acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr), _mm256_set1_ps(p.dmin * dx[t]), acc[t]);
    }
  }

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    // One token (decode): each row's blocks in turn, so the weights stream front to back (the
    // Q6_K output matrix of Llama-3.2-1B Q4_0 read ~0.7 of the bound block-interleaved across
    // the tile's 16 rows; whole-model decode 42.6-43.1 -> 47.5 t/s). Several tokens: every row
    // of the tile per block, the block's activations loaded once. Each (row, token) sums its
    // blocks in order either way, so the results are the same.
    const size_t ahead = kAheadTiles * R * ws;
    if constexpr (T == 1) {
      for (int r = 0; r < R; ++r)
        for (int64_t b = 0; b < nb; ++b) block<T>(w + r * ws, x, xs, b, ahead, acc[r]);
    } else {
      for (int64_t b = 0; b < nb; ++b)
        for (int r = 0; r < R; ++r) block<T>(w + r * ws, x, xs, b, ahead, acc[r]);
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = hsum(acc[r][t]);
  }
};

#if defined(__AVX512F__) && defined(__AVX512BW__)
// Q6_K with two of a super-block's 32-element groups per 512-bit vector: the same integer sums
// per 256-bit lane as the generic group_sums (even groups in the low half, odd ones in the high
// half, added at the end as its two chains are; integers, exact), so KQuantKernel computes the
// same bits with it. From cache it computes one-token decode at 51 GB/s of weights where the
// 256-bit form did 38 (simd_bench pool_hot/q6_K, Zen 5), and prompts at 198 GOP/s instead of
// 180 (pool_batch/q6_K/rows); streamed from DRAM both read alike.
// v in both 256-bit halves (not _mm512_broadcast_i64x4: GCC 12 warns inside it, bug 105593).
inline __m512i both_halves(__m256i v) {
  const __m512i z = _mm512_castsi256_si512(v);
  return _mm512_shuffle_i64x2(z, z, 0x44);
}

struct KQ6Wide : KQ6 {
  template <class D, int T>
  static void wide_sums(const uint8_t* wb, const KPrep& p, const uint8_t* const* xb, __m256i* out) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x30);
    // Shift counts per 256-bit half: the high-bit pairs of groups (4n, 4n + 1) sit at qh << 4 /
    // qh << 2, of groups (4n + 2, 4n + 3) at qh / qh >> 2.
    constexpr __mmask32 kHigh = 0xffff0000u;  // the 16-bit lanes of the high 256 bits
    const __m512i shl = _mm512_mask_blend_epi16(kHigh, _mm512_set1_epi16(4), _mm512_set1_epi16(2));
    const __m512i shr = _mm512_mask_blend_epi16(kHigh, _mm512_setzero_si512(), _mm512_set1_epi16(2));
    const __m512i pick2 = both_halves(p.pick);
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int n = 0; n < 2; ++n) {
      const __m512i ql = _mm512_loadu_si512(wb + 64 * n);  // [ql0 | ql1]
      const __m512i qh = both_halves(load256(wb + 128 + 32 * n));
      const __m512i u01 = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m2));
      const __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                          _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m2));
      for (int h = 0; h < 2; ++h) {
        const int g = 4 * n + 2 * h;  // groups g (low half) and g + 1 (high half)
        const __m512i idx = _mm512_mask_blend_epi16(kHigh, _mm512_set1_epi16(static_cast<int16_t>((2 * g) | ((2 * g + 1) << 8))),
                                                    _mm512_set1_epi16(static_cast<int16_t>((2 * g + 2) | ((2 * g + 3) << 8))));
        const __m512i sc = _mm512_shuffle_epi8(pick2, idx);
        const __m512i u = h == 0 ? u01 : u23;
        for (int t = 0; t < T; ++t)
          isum[t] = dot_u8s8_scaled512<D>(isum[t], u, _mm512_loadu_si512(xb[t] + kQ8KQuantsAt + 32 * g), sc);
      }
    }
    for (int t = 0; t < T; ++t)
      out[t] = _mm256_add_epi32(_mm512_castsi512_si256(isum[t]),
                                _mm512_castsi512_si256(_mm512_shuffle_i64x2(isum[t], isum[t], 0xee)));
  }
};

template <class D>
using Q6KKernel = KQuantKernel<D, std::conditional_t<D::kAvx512, KQ6Wide, KQ6>>;
#else
template <class D>
using Q6KKernel = KQuantKernel<D, KQ6>;
#endif

// The Q4_K kernel of a level: the 512-bit one where AVX-512 is available.
#if defined(__AVX512F__) && defined(__AVX512BW__)
template <class D>
using Q4KKernel = std::conditional_t<D::kAvx512, Q4KWideKernel<D>, KQuantKernel<D, KQ4>>;
#else
template <class D>
using Q4KKernel = KQuantKernel<D, KQ4>;
#endif

}  // namespace
}  // namespace edgellm::kernels::x86
