// x86 kernel family, part 1: primitives and the activation quantizers.
//
// The x86 kernels are written once, as templates over a level policy D:
//   D::kVnni   - vpdpbusd / vpdpwssd on 256-bit vectors: the EVEX forms of AVX-512 VNNI (+VL)
//                with kAvx512, the VEX forms of AVX-VNNI without;
//   D::kAvx512 - AVX-512 F/BW/VL/DQ available (32 vector registers, mask ops, wider tiles).
// Each level's translation unit (kernels_avx2.cpp, ...) is compiled with that level's -m flags,
// defines its policy and instantiates everything below. Everything here has internal linkage
// (unnamed namespace), so no code compiled for one level can be linked into another.
//
// Integer dot products run on 256-bit vectors: on Zen 4 a 512-bit op costs two 256-bit slots,
// and 256-bit tiles of one 32-element block map 1:1 onto the formats' blocks.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/simd/formats.h"
#include "kernels/simd/stream_tuning.h"

namespace edgellm::kernels::x86 {
namespace {

using namespace blk;

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// Byte layout of a Q8_K activation block (quant_blocks.h): f32 d, 256 int8 quants, then the 16
// int16 sums of 16 quants each.
constexpr size_t kQ8KBytes = sizeof(BlockQ8_K);
constexpr size_t kQ8KQuantsAt = offsetof(BlockQ8_K, qs), kQ8KSumsAt = offsetof(BlockQ8_K, bsums);

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
// The dword at p in every lane: 4 activation bytes against a panel's 8 rows.
inline __m256i broadcast_dword(const uint8_t* p) { return _mm256_set1_epi32(static_cast<int>(load_u32(p))); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Software prefetch of the weight stream. A tile works on R rows at once; rows are short
// (a few KB) and the hardware prefetchers lose time training on every new set of R streams.
// So while a tile reads block b of its rows, it prefetches block b of the rows two tiles
// further (ahead = 2 * R * row stride) into L2: measured on Zen 4 this streams Q8_0 at the
// plain read rate, where L1 prefetches or one tile of lookahead reached 60-65% of it.
// Each 64-byte chunk of a row is prefetched exactly once: a call covering row bytes
// [begin, end) prefetches the chunks that start inside that range. Prefetches never fault, so
// running past the last row is harmless.
// How many tiles ahead the weight rows are prefetched (2: measured best; 4 was no better).
inline constexpr size_t kAheadTiles = 2;

// kHint: _MM_HINT_T1 (into L2, the default above) or _MM_HINT_NTA (DecodeStream::l1_ahead).
template <auto kHint = _MM_HINT_T1>
inline void prefetch_span(const uint8_t* row, size_t begin, size_t end, size_t ahead) {
  for (size_t o = (begin + 63) & ~size_t{63}; o < end; o += 64)
    _mm_prefetch(reinterpret_cast<const char*>(row + ahead + o), kHint);
}

// How a one-token (decode) call against the panels prefetches, from the CPU's stream_tuning():
// the L2 prefetch ahead of its reads, and optionally the next line pulled into L1 with the NTA
// hint right before its demand load. Why NTA can help (measured on Zen 4): a panel wider than
// ~2048 columns is bigger than a 32 KiB L1, so between two uses of a block's activations (one
// panel apart) the weight stream's demand loads evict them, and each reload waits behind the
// weight misses; lines fetched with NTA are the first to go, so the activations stay. One line
// ahead was best there: 128 bytes a little slower, 512 and more slower than none.
struct DecodeStream {
  size_t l2_ahead = 0;  // bytes, 0: none
  size_t l1_ahead = 0;  // bytes, 0: none
};

inline void f16_to_f32(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(load128(in + i)));
  for (; i < n; ++i) out[i] = h2f(in[i]);
}

// Calls block(std::integral_constant<int, b % 4>{}, b) for b = 0 .. nb - 1 in order: the four
// f32 chains of the batch-invariant legacy arithmetic (x86_legacy_vnni-inl.h), with the chain
// index a compile-time constant so each chain's accumulators stay in registers.
template <class Block>
inline void blocks_in_chains(int64_t nb, Block&& block) {
  using C0 = std::integral_constant<int, 0>;
  using C1 = std::integral_constant<int, 1>;
  using C2 = std::integral_constant<int, 2>;
  using C3 = std::integral_constant<int, 3>;
  int64_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    block(C0{}, b);
    block(C1{}, b + 1);
    block(C2{}, b + 2);
    block(C3{}, b + 3);
  }
  if (b < nb) block(C0{}, b);
  if (b + 1 < nb) block(C1{}, b + 1);
  if (b + 2 < nb) block(C2{}, b + 2);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// acc + per int32 lane sum of four u8 x s8 products. The maddubs route saturates its int16
// pair sums: callers keep |u| * |s| * 2 <= 32767 (weights <= 128 against activations <= 127).
template <class D>
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
  if constexpr (D::kVnni && D::kAvx512) {
    return _mm256_dpbusd_epi32(acc, u, s);
  } else if constexpr (D::kVnni) {
    return _mm256_dpbusd_avx_epi32(acc, u, s);
  } else {
    const __m256i p = _mm256_maddubs_epi16(u, s);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
}

// acc + per int32 lane sum of the two int16 products a x b (vpdpwssd where the level has it).
template <class D>
inline __m256i madd_i16(__m256i acc, __m256i a, __m256i b) {
  if constexpr (D::kVnni && D::kAvx512) {
    return _mm256_dpwssd_epi32(acc, a, b);
  } else if constexpr (D::kVnni) {
    return _mm256_dpwssd_avx_epi32(acc, a, b);
  } else {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
  }
}

// acc + per int32 lane sum of (u8 x s8 pair sums) x int16 scales: the K-quant sub-block dot.
template <class D>
inline __m256i dot_u8s8_scaled(__m256i acc, __m256i u, __m256i s, __m256i scale16) {
  return madd_i16<D>(acc, _mm256_maddubs_epi16(u, s), scale16);
}

// 0x10 in byte j where bit j of the 32-bit qh is set (Q5_0 / Q5_1 fifth bit).
template <class D>
inline __m256i fifth_bits(uint32_t qh) {
  if constexpr (D::kAvx512) {
    return _mm256_maskz_mov_epi8(static_cast<__mmask32>(qh), _mm256_set1_epi8(0x10));
  } else {
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(qh)),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i bits = _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    const __m256i set = _mm256_cmpeq_epi8(bits, _mm256_set1_epi64x(-1));
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
  }
}

// ---- activation quantizers (bit-identical to quantize_ref.cpp) ------------------------------

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// roundf(): round half away from zero. |v| - trunc(|v|) is exact, so the comparison with 0.5
// decides exactly as the C library does.
inline __m256i round_away(__m256 v) {
  const __m256 a = abs_ps(v);
  __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  t = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_set1_ps(1.0f)));
  const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
  return _mm256_cvttps_epi32(_mm256_or_ps(t, sign));
}

// Packs four vectors of 8 int32 (elements 0..31 in order) into 32 int8.
inline __m256i pack_i32x32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);   // a0-3 b0-3 | a4-7 b4-7
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);  // a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline void quantize_q8_0(const float* x, int64_t n, void* out) {
  const int64_t nb = n / 32;
  auto* dst = static_cast<uint8_t*>(out);
  auto* sums = dst + nb * kQ8_0Bytes;
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + 32 * i;
    __m256 f[4];
    for (int k = 0; k < 4; ++k) f[k] = _mm256_loadu_ps(v + 8 * k);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(f[0]), abs_ps(f[1])),
                                   _mm256_max_ps(abs_ps(f[2]), abs_ps(f[3])));
    const float amax = hmax(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 idv = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = round_away(_mm256_mul_ps(f[k], idv));
    const int16_t sum = static_cast<int16_t>(
        hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]))));
    const uint16_t dh = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    std::memcpy(dst + kQ8_0Bytes * i, &dh, 2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + kQ8_0Bytes * i + 2), pack_i32x32(q[0], q[1], q[2], q[3]));
    std::memcpy(sums + 2 * i, &sum, 2);
  }
}

inline void quantize_q8_k(const float* x, int64_t n, void* out) {
  const int64_t nb = n / 256;
  auto* dst = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + 256 * i;
    uint8_t* b = dst + kQ8KBytes * i;
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 32; ++k) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(v + 8 * k)));
    const float amax = hmax(m);
    if (amax == 0.0f) {
      std::memset(b, 0, kQ8KBytes);
      continue;
    }
    // The reference keeps the sign of the first element of largest magnitude.
    const __m256 am = _mm256_set1_ps(amax);
    int first = 0;
    for (int k = 0; k < 32; ++k) {
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(v + 8 * k)), am, _CMP_EQ_OQ));
      if (mask != 0) {
        first = 8 * k + __builtin_ctz(static_cast<unsigned>(mask));
        break;
      }
    }
    const float iscale = -127.0f / v[first];
    const __m256 is = _mm256_set1_ps(iscale);
    const __m256i cap = _mm256_set1_epi32(127);
    int16_t bsums[16];
    for (int g = 0; g < 8; ++g) {
      __m256i q[4];
      for (int k = 0; k < 4; ++k)
        q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(v + 32 * g + 8 * k), is)), cap);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b + 4 + 32 * g), pack_i32x32(q[0], q[1], q[2], q[3]));
      bsums[2 * g] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[0], q[1])));
      bsums[2 * g + 1] = static_cast<int16_t>(hsum_i32(_mm256_add_epi32(q[2], q[3])));
    }
    const float d = 1.0f / iscale;
    std::memcpy(b, &d, 4);
    std::memcpy(b + 4 + 256, bsums, sizeof bsums);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86
