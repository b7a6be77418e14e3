// Byte layouts of the GGUF block formats, exactly as ggml stores them (ggml-common.h). All
// multi-byte fields are little-endian; `uint16_t` scale fields hold IEEE half bits. The structs
// have no padding (checked below), so an array of them is the on-disk row. SIMD kernels may
// read rows through these types; the scalar reference memcpy's each block so that any source
// alignment is fine.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace edgellm::quant {

inline constexpr int kQK = 32;    // elements per block of the legacy formats and IQ4_NL
inline constexpr int kQK_K = 256; // elements per super-block of the K formats

// Q4_0: x = d * (q - 8). Byte j holds element j in its low nibble and element j+16 in its high.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// Q4_1: x = d * q + m, nibbles as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// Q5_0: x = d * (q - 16); low 4 bits as Q4_0, bit 4 of element j is bit j of the LE word qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// Q5_1: x = d * q + m, bits as Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// Q8_0: x = d * q.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Q8_1: x = d * q; s = d * sum(q) is a helper for dot products (activation format).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};

// Q2_K: 16 sub-blocks of 16. scales[i] low nibble = scale, high nibble = min of sub-block i;
// x = d*sc*q - dmin*m. qs: per 128-element half, byte l holds elements l, l+32, l+64, l+96
// (2 bits each, lowest first) of that half.
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};

// Q3_K: 16 sub-blocks of 16 with 6-bit signed scales (offset 32) packed in 12 bytes;
// low 2 bits laid out as Q2_K, the third bit of element j is bit j/32 of hmask[j%32].
// x = d * (sc - 32) * (q - 4).
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};

// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes (see
// unpack_scale_min_k4); x = d*sc*q - dmin*m. qs: per 64 elements, byte l holds element l
// (low nibble) and l+32 (high nibble).
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};

// Q5_K: Q4_K plus a fifth bit: element 64*p + l (+32) has its high bit in qh[l] bit 2p (2p+1).
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// Q6_K: 16 sub-blocks of 16 with int8 scales; x = d * sc * (q - 32), q 6 bits: per 128
// elements, ql[l] / ql[l+32] hold the low nibbles of elements l, l+32 (low) and l+64, l+96
// (high); qh[l] holds the top 2 bits of l, l+32, l+64, l+96 (lowest first).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// Q8_K: x = d * q with a float scale; bsums[i] = sum of q over elements 16i..16i+15.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

// IQ4_NL: x = d * kIq4nlValues[q], nibbles laid out as Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// The non-linear 4-bit codebook of IQ4_NL / IQ4_XS (a file-format constant).
inline constexpr std::array<int8_t, 16> kIq4nlValues = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                        1,    13,   25,  38,  53,  69,  89,  113};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, d) == 80);
static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, d) == 108);
static_assert(sizeof(BlockQ4_K) == 144 && offsetof(BlockQ4_K, qs) == 16);
static_assert(sizeof(BlockQ5_K) == 176 && offsetof(BlockQ5_K, qs) == 48);
static_assert(sizeof(BlockQ6_K) == 210 && offsetof(BlockQ6_K, d) == 208);
static_assert(sizeof(BlockQ8_K) == 292 && offsetof(BlockQ8_K, bsums) == 260);
static_assert(sizeof(BlockIQ4_NL) == 18);

// Scale and min of sub-block j (0..7) from the 12 packed bytes of Q4_K / Q5_K: bytes 0..3 hold
// the 6-bit scales of 0..3, bytes 4..7 the mins of 0..3, bytes 8..11 the low nibbles of scale
// (low) and min (high) of 4..7, whose top two bits sit in bits 6..7 of bytes 0..7.
struct ScaleMin {
  uint8_t scale;
  uint8_t min;
};
constexpr ScaleMin unpack_scale_min_k4(int j, const uint8_t* packed) {
  if (j < 4) return {static_cast<uint8_t>(packed[j] & 63), static_cast<uint8_t>(packed[j + 4] & 63)};
  return {static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4)),
          static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))};
}

// Inverse of unpack_scale_min_k4 for the 8 six-bit scale and min codes (lossless both ways).
inline void pack_scale_min_k4(const uint8_t* scale_codes, const uint8_t* min_codes, uint8_t* packed) {
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = scale_codes[j], lm = min_codes[j];
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((ls >> 4) << 6));
      packed[j] = static_cast<uint8_t>(packed[j] | ((lm >> 4) << 6));
    }
  }
}

// Signed 6-bit scale j (0..15, offset removed) from the 12 packed bytes of Q3_K: bytes 0..7
// hold the low nibbles (scales 0..7 low, 8..15 high), bytes 8..11 the top 2 bits, 2 per scale
// at bit 2*(j/4) of byte 8 + j%4.
constexpr int unpack_scale_q3_k(int j, const uint8_t* packed) {
  const int low = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace edgellm::quant
