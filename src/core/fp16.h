// IEEE half and bfloat16 conversions, exact and portable (the scalar reference; SIMD paths use
// F16C / AVX-512 BF16 / NEON and are checked against these).
#pragma once

#include <cstdint>
#include <cstring>

namespace edgellm {

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);  // round to nearest even, as F16C's vcvtps2ph with imm 0

inline float bf16_to_fp32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest even; NaN stays a (quiet) NaN. Matches ggml's ggml_compute_fp32_to_bf16.
inline uint16_t fp32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 64u);
  return static_cast<uint16_t>((bits + (0x7fffu + ((bits >> 16) & 1u))) >> 16);
}

}  // namespace edgellm
