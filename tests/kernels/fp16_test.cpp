// core/fp16: the portable half / bfloat16 conversions against the F16C hardware instructions
// (exhaustive over halves, rounding boundaries and a strided sweep over all floats) and
// hand-worked bfloat16 rounding cases.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/fp16.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace edgellm {
namespace {

uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }
float float_of(uint32_t bits) { return std::bit_cast<float>(bits); }

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);                  // largest finite half
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(bits_of(fp16_to_fp32(0x8000)), 0x80000000u);      // -0 keeps its sign
  EXPECT_EQ(fp16_to_fp32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.996f), 0x7BFF);  // below the halfway point to 65536
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);    // halfway: ties to even = inf
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);        // exactly half the smallest: even
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);        // above half: rounds up
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);        // 1.5 units: tie to even (2)
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie, even stays
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
}

TEST(Fp16, EveryHalfSurvivesTheRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<uint16_t>(h);
    const float f = fp16_to_fp32(half);
    if ((half & 0x7C00) == 0x7C00 && (half & 0x03FF) != 0) {
      EXPECT_TRUE(f != f) << "half " << h << " is a NaN";
      EXPECT_EQ(fp32_to_fp16(f) & 0x7E00, 0x7E00) << "NaN " << h << " must stay a quiet NaN";
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), half) << "half " << h;
  }
}

#if defined(__F16C__)
uint16_t hardware_to_half(float f) { return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }
float hardware_to_float(uint16_t h) { return _cvtsh_ss(h); }

TEST(Fp16, MatchesF16cOnEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<uint16_t>(h);
    ASSERT_EQ(bits_of(fp16_to_fp32(half)), bits_of(hardware_to_float(half))) << "half 0x" << std::hex << h;
  }
}

// The rounding decisions sit at the midpoints between neighbouring halves: check a few float
// ulps either side of every midpoint, for both signs, and of every half itself.
TEST(Fp16, MatchesF16cAroundEveryRoundingBoundary) {
  for (uint32_t h = 0; h < 0x7C00; ++h) {
    const float lo = fp16_to_fp32(static_cast<uint16_t>(h));
    const float hi = fp16_to_fp32(static_cast<uint16_t>(h + 1));
    const float mid = lo + (hi - lo) / 2;  // exact: a half has 11 significant bits
    for (const float centre : {lo, mid}) {
      for (int delta = -3; delta <= 3; ++delta) {
        for (const uint32_t sign : {0u, 0x80000000u}) {
          const float f = float_of((bits_of(centre) + static_cast<uint32_t>(delta)) | sign);
          ASSERT_EQ(fp32_to_fp16(f), hardware_to_half(f)) << "float bits 0x" << std::hex << bits_of(f);
        }
      }
    }
  }
}

TEST(Fp16, MatchesF16cOnAStridedSweepOfAllFloats) {
  // 251 is prime, so the sweep visits every low-bit pattern class; ~17M floats in all.
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 251) {
    const float f = float_of(static_cast<uint32_t>(b));
    if (f != f) {
      // vcvtps2ph keeps the top payload bits and sets the quiet bit; so must we.
      ASSERT_EQ(fp32_to_fp16(f), hardware_to_half(f)) << "NaN bits 0x" << std::hex << b;
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), hardware_to_half(f)) << "float bits 0x" << std::hex << b;
  }
}
#else
TEST(Fp16, HardwareReference) { GTEST_SKIP() << "F16C not available on this target; hardware comparison skipped"; }
#endif

TEST(Bf16, RoundsToNearestEven) {
  const float one = 1.0f;
  EXPECT_EQ(fp32_to_bf16(one), 0x3F80);
  // bf16 keeps 7 fraction bits: near 1 the ulp is 2^-7 and the halfway point 2^-8.
  EXPECT_EQ(fp32_to_bf16(one + std::ldexp(1.0f, -8)), 0x3F80);                           // tie, even stays
  EXPECT_EQ(fp32_to_bf16(one + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -23)), 0x3F81);  // just above
  EXPECT_EQ(fp32_to_bf16(one + std::ldexp(3.0f, -8)), 0x3F82);                           // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(one + std::ldexp(1.0f, -8) - std::ldexp(1.0f, -23)), 0x3F80);  // just below
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to inf
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(fp32_to_bf16(float_of(0x00008000u)), 0x0000);  // subnormal tie, even stays
  EXPECT_EQ(fp32_to_bf16(float_of(0x00018000u)), 0x0002);  // subnormal tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(float_of(0x7F800001u)), 0x7FC0);  // signalling NaN becomes quiet
  EXPECT_EQ(fp32_to_bf16(float_of(0xFFC12345u)), 0xFFC1);  // quiet NaN keeps sign and payload top
  EXPECT_EQ(bf16_to_fp32(0x3F81), one + std::ldexp(1.0f, -7));
}

TEST(Bf16, EveryBf16SurvivesTheRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto b = static_cast<uint16_t>(h);
    const float f = bf16_to_fp32(b);
    if (f != f) continue;  // NaNs are only required to stay NaN (quieted), checked above
    ASSERT_EQ(fp32_to_bf16(f), b) << "bf16 " << h;
  }
}

}  // namespace
}  // namespace edgellm
