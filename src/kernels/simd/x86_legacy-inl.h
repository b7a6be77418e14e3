// x86 kernel family, part 2: the 32-element block formats (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL)
// against Q8_0 activations.
//
// Per weight block a format yields 32 bytes `u` and how they relate to the weights:
//   unsigned: w = u - kOffset (kOffset 0 for Q4_1/Q5_1, whose min is a separate term), so
//     sum(w x) = sum(u x) - kOffset * sum(x); kOffset * x is summed per int32 lane once per
//     activation block (shared by all rows of the tile) and seeds the dot's accumulator.
//   signed (Q8_0, IQ4_NL): u holds int8 weights. VNNI makes them unsigned by adding 128 (xor
//     0x80, or a biased lookup table), other levels use |w| * sign(x, w) for vpmaddubsw.
// One float multiply-add per (row, token, block) applies d_w * d_x.
#pragma once

#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

struct LegacyBlock {
  __m256i u;          // 32 bytes as described above
  float d;            // block scale
  float m;            // block min (formats with kHasMin)
};

template <class D>
struct Q4_0 {
  static constexpr size_t kBytes = 18;
  static constexpr bool kSigned = false, kHasMin = false;
  static constexpr int kOffset = 8;
  static LegacyBlock load(const uint8_t* b) {
    uint16_t d;
    std::memcpy(&d, b, 2);
    return {unpack_nibbles32(b + 2), h2f(d), 0.0f};
  }
};

template <class D>
struct Q4_1 {
  static constexpr size_t kBytes = 20;
  static constexpr bool kSigned = false, kHasMin = true;
  static constexpr int kOffset = 0;
  static LegacyBlock load(const uint8_t* b) {
    uint16_t dm[2];
    std::memcpy(dm, b, 4);
    return {unpack_nibbles32(b + 4), h2f(dm[0]), h2f(dm[1])};
  }
};

template <class D>
struct Q5_0 {
  static constexpr size_t kBytes = 22;
  static constexpr bool kSigned = false, kHasMin = false;
  static constexpr int kOffset = 16;
  static LegacyBlock load(const uint8_t* b) {
    uint16_t d;
    std::memcpy(&d, b, 2);
    const __m256i u = _mm256_or_si256(unpack_nibbles32(b + 6), fifth_bits<D>(load_u32(b + 2)));
    return {u, h2f(d), 0.0f};
  }
};

template <class D>
struct Q5_1 {
  static constexpr size_t kBytes = 24;
  static constexpr bool kSigned = false, kHasMin = true;
  static constexpr int kOffset = 0;
  static LegacyBlock load(const uint8_t* b) {
    uint16_t dm[2];
    std::memcpy(dm, b, 4);
    const __m256i u = _mm256_or_si256(unpack_nibbles32(b + 8), fifth_bits<D>(load_u32(b + 4)));
    return {u, h2f(dm[0]), h2f(dm[1])};
  }
};

template <class D>
struct Q8_0 {
  static constexpr size_t kBytes = 34;
  static constexpr bool kSigned = !D::kVnni, kHasMin = false;
  static constexpr int kOffset = D::kVnni ? 128 : 0;
  static LegacyBlock load(const uint8_t* b) {
    uint16_t d;
    std::memcpy(&d, b, 2);
    __m256i q = load256(b + 2);
    if constexpr (D::kVnni) q = _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
    return {q, h2f(d), 0.0f};
  }
};

template <class D>
struct Iq4Nl {
  static constexpr size_t kBytes = 18;
  static constexpr bool kSigned = !D::kVnni, kHasMin = false;
  static constexpr int kOffset = D::kVnni ? 128 : 0;
  static LegacyBlock load(const uint8_t* b) {
    uint16_t d;
    std::memcpy(&d, b, 2);
    // The level table, +128 for VNNI's unsigned operand.
    const int bias = D::kVnni ? 128 : 0;
    alignas(16) int8_t table[16];
    for (int i = 0; i < 16; ++i) table[i] = static_cast<int8_t>(kIq4NlValues[i] + bias);
    const __m256i lut = _mm256_broadcastsi128_si256(load128(table));
    return {_mm256_shuffle_epi8(lut, unpack_nibbles32(b + 2)), h2f(d), 0.0f};
  }
};

// R rows x T tokens of one legacy format; see driver.h for the contract.
template <class D, class F>
struct LegacyKernel {
  static constexpr int kBlock = 32;
  static constexpr int kVecRows = 4;
  static constexpr int kTileRows = 4;
  static constexpr int kTileTokens = D::kAvx512 ? 4 : 2;

  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    __m256 acc[R][T];
    float macc[R][T];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t) {
        acc[r][t] = _mm256_setzero_ps();
        macc[r][t] = 0.0f;
      }
    const uint8_t* xsums[T];
    for (int t = 0; t < T; ++t) xsums[t] = x + t * xs + nb * 34;
    for (int64_t b = 0; b < nb; ++b) {
      __m256i xv[T], init[T];
      float dx[T], sx[T];
      for (int t = 0; t < T; ++t) {
        const uint8_t* xb = x + t * xs + b * 34;
        uint16_t dh;
        int16_t s;
        std::memcpy(&dh, xb, 2);
        std::memcpy(&s, xsums[t] + 2 * b, 2);
        xv[t] = load256(xb + 2);
        dx[t] = h2f(dh);
        sx[t] = dx[t] * static_cast<float>(s);
        // The zero-point correction -kOffset * x per int32 lane, so every lane stays an exact
        // partial dot product of its own four columns (no cancellation across lanes later).
        if constexpr (F::kOffset != 0) {
          const __m256i off = _mm256_set1_epi8(static_cast<char>(F::kOffset));
          init[t] = _mm256_sub_epi32(_mm256_setzero_si256(), dot_u8s8<D>(_mm256_setzero_si256(), off, xv[t]));
        } else {
          init[t] = _mm256_setzero_si256();
        }
      }
      for (int r = 0; r < R; ++r) {
        const uint8_t* wp = w + r * ws + b * F::kBytes;
        prefetch_ahead<1>(wp, R * ws);
        const LegacyBlock wb = F::load(wp);
        for (int t = 0; t < T; ++t) {
          __m256i dot;
          if constexpr (F::kSigned)
            dot = dot_u8s8<D>(init[t], _mm256_sign_epi8(wb.u, wb.u), _mm256_sign_epi8(xv[t], wb.u));
          else
            dot = dot_u8s8<D>(init[t], wb.u, xv[t]);
          acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(wb.d * dx[t]), acc[r][t]);
          if constexpr (F::kHasMin) macc[r][t] += wb.m * sx[t];
        }
      }
    }
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = hsum(acc[r][t]) + macc[r][t];
  }
};

}  // namespace
}  // namespace edgellm::kernels::x86
