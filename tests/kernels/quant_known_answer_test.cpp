// Known-answer vectors: hand-built blocks with chosen bytes whose values follow directly from
// the GGUF format definitions (ggml-common.h), and hand-worked quantizations of simple inputs.
// Every scale used is a power of two, so all expected values are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "gguf/tensor_type.h"
#include "kernels/quant/quant.h"

namespace edgellm::quant {
namespace {

constexpr std::array<int, 16> kIq4nl = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

std::vector<float> dequant(TensorType type, const std::vector<uint8_t>& bytes) {
  const auto& t = traits(type);
  const int64_t n = static_cast<int64_t>(bytes.size() / t.block_bytes) * t.block_size;
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(type, bytes.data(), out.data(), n);
  return out;
}

std::vector<uint8_t> quant(TensorType type, const std::vector<float>& x) {
  std::vector<uint8_t> out(row_bytes(type, static_cast<int64_t>(x.size())));
  EXPECT_EQ(quantize_rows(type, x.data(), out.data(), 1, static_cast<int64_t>(x.size())), out.size());
  return out;
}

void put_u16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v);
  b[off + 1] = static_cast<uint8_t>(v >> 8);
}

// fp16 bit patterns used below
constexpr uint16_t kHalfOne = 0x3C00, kHalfHalf = 0x3800, kHalfQuarter = 0x3400, kHalfTwo = 0x4000,
                   kHalfMinusOne = 0xBC00, kHalfSixteenth = 0x2C00;

TEST(QuantKnownAnswer, FloatFormats) {
  const std::vector<uint8_t> f16 = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00};
  EXPECT_EQ(dequant(TensorType::F16, f16), (std::vector<float>{1.f, -2.f, 5.9604644775390625e-8f}));
  const std::vector<uint8_t> bf16 = {0x80, 0x3F, 0x40, 0xC0};
  EXPECT_EQ(dequant(TensorType::BF16, bf16), (std::vector<float>{1.f, -3.f}));
  EXPECT_EQ(quant(TensorType::F16, {1.f, -2.f}), (std::vector<uint8_t>{0x00, 0x3C, 0x00, 0xC0}));
  EXPECT_EQ(quant(TensorType::BF16, {1.f, -3.f}), (std::vector<uint8_t>{0x80, 0x3F, 0x40, 0xC0}));
}

TEST(QuantKnownAnswer, Q4_0) {
  std::vector<uint8_t> b(18);
  put_u16(b, 0, kHalfHalf);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | (((j + 3) % 16) << 4));
  const auto y = dequant(TensorType::Q4_0, b);
  EXPECT_EQ(y[0], -4.f);    // nibble 0 -> (0-8)*0.5
  EXPECT_EQ(y[16], -2.5f);  // high nibble of byte 0 is 3
  EXPECT_EQ(y[31], -3.f);   // high nibble of byte 15 is 2
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(y[16 + j], ((j + 3) % 16 - 8) * 0.5f) << j;
  }
}

TEST(QuantKnownAnswer, Q4_1) {
  std::vector<uint8_t> b(20);
  put_u16(b, 0, kHalfQuarter);
  put_u16(b, 2, kHalfMinusOne);
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(TensorType::Q4_1, b);
  EXPECT_EQ(y[0], -1.f);
  EXPECT_EQ(y[16], 2.75f);  // 15 * 0.25 - 1
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j * 0.25f - 1.f) << j;
    EXPECT_EQ(y[16 + j], (15 - j) * 0.25f - 1.f) << j;
  }
}

// qh = 0xFF00F00F little-endian: the fifth bit is set for elements 0-3, 12-15 and 24-31.
bool q5_high_bit(int element) { return element < 4 || (element >= 12 && element < 16) || element >= 24; }

TEST(QuantKnownAnswer, Q5_0) {
  std::vector<uint8_t> b(22);
  put_u16(b, 0, kHalfOne);
  b[2] = 0x0F, b[3] = 0xF0, b[4] = 0x00, b[5] = 0xFF;
  for (int j = 0; j < 16; ++j) b[6 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(TensorType::Q5_0, b);
  EXPECT_EQ(y[0], 0.f);     // 0 + 16 - 16
  EXPECT_EQ(y[5], -11.f);   // 5 - 16
  EXPECT_EQ(y[16], -1.f);   // 15 - 16
  EXPECT_EQ(y[31], 0.f);    // 0 + 16 - 16
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], j + 16 * q5_high_bit(j) - 16.f) << j;
    EXPECT_EQ(y[16 + j], (15 - j) + 16 * q5_high_bit(16 + j) - 16.f) << j;
  }
}

TEST(QuantKnownAnswer, Q5_1) {
  std::vector<uint8_t> b(24);
  put_u16(b, 0, kHalfHalf);
  put_u16(b, 2, kHalfTwo);
  b[4] = 0x0F, b[5] = 0xF0, b[6] = 0x00, b[7] = 0xFF;
  for (int j = 0; j < 16; ++j) b[8 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(TensorType::Q5_1, b);
  EXPECT_EQ(y[0], 10.f);  // (0 + 16) * 0.5 + 2
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j + 16 * q5_high_bit(j)) * 0.5f + 2.f) << j;
    EXPECT_EQ(y[16 + j], ((15 - j) + 16 * q5_high_bit(16 + j)) * 0.5f + 2.f) << j;
  }
}

TEST(QuantKnownAnswer, Q8_0AndQ8_1) {
  std::vector<uint8_t> b(34);
  put_u16(b, 0, kHalfSixteenth);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(j * 8 - 128);
  const auto y = dequant(TensorType::Q8_0, b);
  EXPECT_EQ(y[0], -8.f);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j * 8 - 128) / 16.f) << j;

  std::vector<uint8_t> c(36);
  put_u16(c, 0, kHalfTwo);
  put_u16(c, 2, 0x1234);  // the sum field does not affect values
  for (int j = 0; j < 32; ++j) c[4 + j] = static_cast<uint8_t>(j - 16);
  const auto z = dequant(TensorType::Q8_1, c);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(z[j], 2.f * (j - 16)) << j;
}

// qs bytes 0xE4 = 0b11'10'01'00: the 2-bit field at shift 2k holds k, so element e has level
// (e % 128) / 32; elements 16s..16s+15 use sub-block scale s.
TEST(QuantKnownAnswer, Q2_K) {
  std::vector<uint8_t> b(84);
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(s | ((15 - s) << 4));  // scale s, min 15-s
  for (int k = 0; k < 64; ++k) b[16 + k] = 0xE4;
  put_u16(b, 80, kHalfOne);
  put_u16(b, 82, kHalfHalf);
  const auto y = dequant(TensorType::Q2_K, b);
  EXPECT_EQ(y[0], -7.5f);    // sub-block 0: 0*0 - 0.5*15
  EXPECT_EQ(y[100], 13.5f);  // sub-block 6, level 3: 6*3 - 0.5*9
  EXPECT_EQ(y[200], 22.5f);  // sub-block 12, level 2: 12*2 - 0.5*3
  for (int e = 0; e < 256; ++e) {
    const int s = e / 16, level = (e % 128) / 32;
    EXPECT_EQ(y[e], static_cast<float>(s * level) - 0.5f * static_cast<float>(15 - s)) << e;
  }
}

// Codes c_j = j + 24 give scales j - 8: bytes 0..7 hold low nibbles (code j low, code j+8
// high) = (8+k) | k<<4; bytes 8..11 hold the top bits 1,1,2,2 of codes i, i+4, i+8, i+12.
// hmask bytes 0xF0 set the third bit for elements 128..255 only.
TEST(QuantKnownAnswer, Q3_K) {
  std::vector<uint8_t> b(110);
  for (int m = 0; m < 32; ++m) b[m] = 0xF0;
  for (int k = 0; k < 64; ++k) b[32 + k] = 0xE4;
  const uint8_t scales[12] = {0x08, 0x19, 0x2A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F, 0xA5, 0xA5, 0xA5, 0xA5};
  for (int k = 0; k < 12; ++k) b[96 + k] = scales[k];
  put_u16(b, 108, kHalfOne);
  const auto y = dequant(TensorType::Q3_K, b);
  EXPECT_EQ(y[0], 32.f);   // scale -8, level 0 - 4
  EXPECT_EQ(y[200], 8.f);  // scale 4, level 2, high bit set
  for (int e = 0; e < 256; ++e) {
    const int scale = e / 16 - 8, level = (e % 128) / 32 - (e >= 128 ? 0 : 4);
    EXPECT_EQ(y[e], static_cast<float>(scale * level)) << e;
  }
}

// Scales 10+7j and mins 60-5j for sub-blocks j = 0..7, packed by hand: bytes 0..3 = scale j
// plus the top 2 bits of scale j+4 in bits 6-7; bytes 4..7 likewise for mins; bytes 8..11 =
// low nibbles of scale j+4 | min j+4 << 4.
constexpr int kKScale[8] = {10, 17, 24, 31, 38, 45, 52, 59};
constexpr int kKMin[8] = {60, 55, 50, 45, 40, 35, 30, 25};
constexpr uint8_t kKPacked[12] = {138, 145, 216, 223, 188, 183, 114, 109, 134, 61, 228, 155};

TEST(QuantKnownAnswer, Q4_K) {
  std::vector<uint8_t> b(144);
  put_u16(b, 0, kHalfOne);
  put_u16(b, 2, kHalfQuarter);
  for (int k = 0; k < 12; ++k) b[4 + k] = kKPacked[k];
  for (int k = 0; k < 128; ++k) b[16 + k] = static_cast<uint8_t>(k);
  const auto y = dequant(TensorType::Q4_K, b);
  EXPECT_EQ(y[0], -15.f);      // level 0, min 60 * 0.25
  EXPECT_EQ(y[100], 50.75f);   // byte 36 high nibble 2, sub-block 3: 31*2 - 45/4
  EXPECT_EQ(y[255], 406.75f);  // byte 127 high nibble 7, sub-block 7: 59*7 - 25/4
  for (int e = 0; e < 256; ++e) {
    const int byte = 32 * (e / 64) + e % 32;
    const int level = (e % 64) < 32 ? (byte & 0xF) : (byte >> 4);
    EXPECT_EQ(y[e], static_cast<float>(kKScale[e / 32] * level) - 0.25f * static_cast<float>(kKMin[e / 32])) << e;
  }
}

TEST(QuantKnownAnswer, Q5_K) {
  std::vector<uint8_t> b(176);
  put_u16(b, 0, kHalfOne);
  put_u16(b, 2, kHalfQuarter);
  for (int k = 0; k < 12; ++k) b[4 + k] = kKPacked[k];
  for (int l = 0; l < 32; ++l) b[16 + l] = static_cast<uint8_t>(8 * l);  // fifth bits
  for (int k = 0; k < 128; ++k) b[48 + k] = static_cast<uint8_t>(k);
  const auto y = dequant(TensorType::Q5_K, b);
  EXPECT_EQ(y[100], 50.75f);    // qh[4] = 32 has bit 3 clear
  EXPECT_EQ(y[255], 1350.75f);  // qh[31] = 248 has bit 7 set: level 7 + 16
  for (int e = 0; e < 256; ++e) {
    const int pair = e / 64, upper = (e % 64) / 32, l = e % 32;
    const int byte = 32 * pair + l;
    const int high = ((8 * l) >> (2 * pair + upper)) & 1;
    const int level = (upper ? (byte >> 4) : (byte & 0xF)) + 16 * high;
    EXPECT_EQ(y[e], static_cast<float>(kKScale[e / 32] * level) - 0.25f * static_cast<float>(kKMin[e / 32])) << e;
  }
}

TEST(QuantKnownAnswer, Q6_K) {
  std::vector<uint8_t> b(210);
  for (int k = 0; k < 128; ++k) b[k] = static_cast<uint8_t>(k);             // ql
  for (int k = 0; k < 64; ++k) b[128 + k] = static_cast<uint8_t>(k * 37);   // qh
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(s - 8);    // int8 scales
  put_u16(b, 208, kHalfHalf);
  const auto y = dequant(TensorType::Q6_K, b);
  EXPECT_EQ(y[0], 128.f);   // level 0 - 32, scale -8: 0.5 * -8 * -32
  EXPECT_EQ(y[200], -56.f); // ql[72] high nibble 4, qh[40] = 200 bits 4-5 = 0: 0.5 * 4 * (4 - 32)
  for (int e = 0; e < 256; ++e) {
    const int half = e / 128, quarter = (e % 128) / 32, l = e % 32;
    const int ql = 64 * half + 32 * (quarter % 2) + l;
    const int low = quarter < 2 ? (ql & 0xF) : (ql >> 4);
    const int high = (((32 * half + l) * 37 & 0xFF) >> (2 * quarter)) & 3;
    EXPECT_EQ(y[e], 0.5f * static_cast<float>((e / 16 - 8) * ((low | (high << 4)) - 32))) << e;
  }
}

TEST(QuantKnownAnswer, Q8_K) {
  std::vector<uint8_t> b(292);
  const float d = 0.5f;
  std::memcpy(b.data(), &d, 4);
  for (int j = 0; j < 256; ++j) b[4 + j] = static_cast<uint8_t>(j - 128);
  const auto y = dequant(TensorType::Q8_K, b);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], 0.5f * (j - 128)) << j;
}

TEST(QuantKnownAnswer, IQ4_NL) {
  std::vector<uint8_t> b(18);
  put_u16(b, 0, kHalfTwo);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = dequant(TensorType::IQ4_NL, b);
  EXPECT_EQ(y[0], -254.f);
  EXPECT_EQ(y[16], 226.f);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.f * kIq4nl[j]) << j;
    EXPECT_EQ(y[16 + j], 2.f * kIq4nl[15 - j]) << j;
  }
}

// --- quantization of hand-worked inputs -------------------------------------------------

TEST(QuantKnownAnswer, QuantizeQ8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32);
  const float head[8] = {127.f, -0.5f, 0.5f, 1.5f, 2.5f, -2.5f, -127.f, 3.49f};
  for (int j = 0; j < 32; ++j) x[j] = j < 8 ? head[j] : static_cast<float>(j - 16);
  const auto b = quant(TensorType::Q8_0, x);  // absmax 127 -> d = 1
  EXPECT_EQ(b[0] | (b[1] << 8), kHalfOne);
  const int8_t expect_head[8] = {127, -1, 1, 2, 3, -3, -127, 3};
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(static_cast<int8_t>(b[2 + j]), j < 8 ? expect_head[j] : j - 16) << j;
}

TEST(QuantKnownAnswer, QuantizeQ4_0UsesTheSignedMaximum) {
  // Signed max -8: d = 1, level = min(15, trunc(x + 8.5)), i.e. round half up.
  std::vector<float> x(32, 0.f);
  const float head[8] = {-8.f, -0.5f, 0.5f, -1.5f, 7.f, 7.4f, 7.6f, 3.2f};
  for (int j = 0; j < 8; ++j) x[j] = head[j];
  auto b = quant(TensorType::Q4_0, x);
  EXPECT_EQ(b[0] | (b[1] << 8), kHalfOne);
  const uint8_t levels[8] = {0, 8, 9, 7, 15, 15, 15, 11};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b[2 + j], (j < 8 ? levels[j] : 8) | (8 << 4)) << j;  // x = 0 -> 8

  // Signed max +8: d = -1, so -8 needs level 16 and is clamped to 15 (decodes as -7).
  x.assign(32, 0.f);
  x[0] = 8.f, x[1] = -8.f;
  b = quant(TensorType::Q4_0, x);
  EXPECT_EQ(b[0] | (b[1] << 8), kHalfMinusOne);
  EXPECT_EQ(b[2], 0x80);  // 8 -> 0; element 16 (x = 0) -> 8
  EXPECT_EQ(b[3], 0x8F);
  EXPECT_EQ(dequant(TensorType::Q4_0, b)[1], -7.f);
}

TEST(QuantKnownAnswer, QuantizeQ4_1AndQ5_1) {
  std::vector<float> x(32, 0.f);
  x[0] = -1.f, x[1] = 14.f, x[2] = 0.5f, x[3] = 1.49f, x[4] = 6.5f;
  auto b = quant(TensorType::Q4_1, x);  // min -1, max 14: d = 1, m = -1, level trunc(x + 1.5)
  EXPECT_EQ(b[0] | (b[1] << 8), kHalfOne);
  EXPECT_EQ(b[2] | (b[3] << 8), kHalfMinusOne);
  const uint8_t levels[5] = {0, 15, 2, 2, 8};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b[4 + j], (j < 5 ? levels[j] : 1) | (1 << 4)) << j;

  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j);
  x[2] = 2.5f, x[3] = 3.49f;  // -> 3 (half up) and 3
  b = quant(TensorType::Q5_1, x);  // min 0, max 31: d = 1, m = 0
  EXPECT_EQ(b[0] | (b[1] << 8), kHalfOne);
  EXPECT_EQ(b[2] | (b[3] << 8), 0);
  EXPECT_EQ(b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24), static_cast<int>(0xFFFF0000u));
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b[8 + j], (j == 2 ? 3 : j) | (j << 4)) << j;
}

TEST(QuantKnownAnswer, QuantizeQ5_0) {
  std::vector<float> x(32, 0.f);
  x[0] = -16.f, x[1] = 15.7f, x[2] = 3.f, x[3] = -0.5f, x[4] = -3.f, x[20] = 2.f;
  const auto b = quant(TensorType::Q5_0, x);  // d = 1, level = min(31, trunc(x + 16.5))
  EXPECT_EQ(b[0] | (b[1] << 8), kHalfOne);
  // levels 0, 31 (clamped), 19, 16, 13, then 16 (x = 0) except element 20 -> 18
  EXPECT_EQ(b[2] | (b[3] << 8) | (b[4] << 16) | (b[5] << 24), static_cast<int>(0xFFFFFFEEu));
  const uint8_t qs[16] = {0x00, 0x0F, 0x03, 0x00, 0x2D, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b[6 + j], qs[j]) << j;
}

TEST(QuantKnownAnswer, QuantizeQ8_KRoundsHalfToEven) {
  std::vector<float> x(256);
  for (int j = 0; j < 256; ++j) x[j] = static_cast<float>(j % 7 - 3) + 0.5f;  // -2.5 .. 3.5
  x[0] = -127.f;  // signed max -127: iscale = 1, d = 1
  const auto b = quant(TensorType::Q8_K, x);
  float d;
  std::memcpy(&d, b.data(), 4);
  EXPECT_EQ(d, 1.f);
  int16_t bsum0 = 0;
  for (int j = 0; j < 256; ++j) {
    // nearest_int rounds ties to even: -2.5 -> -2, -1.5 -> -2, -0.5 -> 0, 0.5 -> 0, 1.5 -> 2 ...
    const int expect = j == 0 ? -127 : static_cast<int>(std::nearbyint(x[j]));
    EXPECT_EQ(static_cast<int8_t>(b[4 + j]), expect) << j;
    if (j < 16) bsum0 = static_cast<int16_t>(bsum0 + expect);
  }
  EXPECT_EQ(static_cast<int16_t>(b[260] | (b[261] << 8)), bsum0);
}

TEST(QuantKnownAnswer, QuantizeIQ4_NLRecoversCodebookPoints) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.01f * static_cast<float>(kIq4nl[(7 * j) % 16]);
  const auto b = quant(TensorType::IQ4_NL, x);
  EXPECT_NEAR(fp16_to_fp32(static_cast<uint16_t>(b[0] | (b[1] << 8))), 0.01f, 0.01f / 1024);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(b[2 + j] & 0xF, (7 * j) % 16) << j;
    EXPECT_EQ(b[2 + j] >> 4, (7 * (j + 16)) % 16) << j;
  }
}

TEST(QuantKnownAnswer, ZeroBlocks) {
  for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                          TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                          TensorType::Q8_K}) {
    const auto& t = traits(type);
    const auto b = quant(type, std::vector<float>(static_cast<size_t>(t.block_size), 0.f));
    std::vector<uint8_t> expect(t.block_bytes, 0);
    // Q4_0 / Q5_0 compute d = 0 / -8 (or -16) = -0, stored as half 0x8000, as ggml does.
    if (type == TensorType::Q4_0 || type == TensorType::Q5_0) expect[1] = 0x80;
    for (size_t k = 2; k < expect.size(); ++k) {
      if (type == TensorType::Q4_0) expect[k] = 0x88;           // level 8 is 0
      if (type == TensorType::Q5_0 && k < 6) expect[k] = 0xFF;  // level 16: fifth bit everywhere
    }
    EXPECT_EQ(b, expect) << t.name;
  }
  // IQ4_NL: scale 0, every index 8 (the entry nearest to 0 is +1)
  const auto iq = quant(TensorType::IQ4_NL, std::vector<float>(32, 0.f));
  EXPECT_EQ(iq[0] | iq[1], 0);
  for (int j = 2; j < 18; ++j) EXPECT_EQ(iq[j], 0x88) << j;
}

}  // namespace
}  // namespace edgellm::quant
