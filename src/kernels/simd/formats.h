// The GGUF block layouts the kernels read (the structs of src/kernels/quant/quant_blocks.h,
// ggml's block_* layouts) and the small decoding helpers every ISA shares.
//
// Everything defined here is constexpr data, or functions with internal linkage: this header is
// included by translation units compiled with -mavx512f etc., and an inline function with
// external linkage (a COMDAT symbol) compiled there could be the copy the linker keeps for
// baseline code too. That is also why the scale helpers below restate quant_blocks.h's
// constexpr ones instead of calling them.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/quant/quant_blocks.h"

namespace edgellm::kernels::blk {

inline constexpr int kQK = quant::kQK_K;  // K-quant super-block
inline constexpr int kQ32 = quant::kQK;   // legacy block

using quant::BlockQ2_K;
using quant::BlockQ3_K;
using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ4_K;
using quant::BlockQ5_0;
using quant::BlockQ5_1;
using quant::BlockQ5_K;
using quant::BlockQ6_K;
using quant::BlockQ8_0;
using quant::BlockQ8_K;
using BlockIq4Nl = quant::BlockIQ4_NL;

// Bytes of one Q8_0 block: a weight block, and the block of the activation rows that the 32-element
// formats multiply with.
inline constexpr size_t kQ8_0Bytes = sizeof(BlockQ8_0);

// IQ4_NL's 16 non-linear levels (a plain array: no std::array accessors in ISA code).
inline constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};
static_assert([] {
  for (int i = 0; i < 16; ++i)
    if (kIq4NlValues[i] != quant::kIq4nlValues[static_cast<size_t>(i)]) return false;
  return true;
}());

namespace {

// Q4_K / Q5_K: 12 bytes hold 8 six-bit scales and 8 six-bit mins. Out: sc[0..7], mn[0..7].
inline void unpack_k4_scales(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
    sc[j + 4] = static_cast<uint8_t>((s[j + 8] & 0x0f) | ((s[j] >> 6) << 4));
    mn[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
  }
}

// Q3_K: 12 bytes hold 16 six-bit scales (low 4 bits in bytes 0..7, high 2 bits in 8..11),
// stored with a +32 bias. Out: the signed scales.
inline void unpack_q3k_scales(const uint8_t* s, int8_t* out) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
    const int high = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace
}  // namespace edgellm::kernels::blk
