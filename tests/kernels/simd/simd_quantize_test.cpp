// Activation quantizers on every level: byte-identical to the scalar reference and to
// quant::quantize_rows (Q8_0 blocks, Q8_K blocks), including rounding ties and sign choices.
#include <gtest/gtest.h>

#include "kernels/simd/formats.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

std::vector<float> tricky_row(int64_t n, std::mt19937& rng) {
  auto x = random_acts(n, rng);
  for (int64_t b = 0; b + 1 < n / 32; b += 9) {
    float* v = x.data() + 32 * b;
    // amax 127 gives d = 1: exact .5 ties must round away from zero (roundf), not to even.
    for (int j = 0; j < 32; ++j) v[j] = static_cast<float>(j % 8) - 3.5f;
    v[0] = 127.0f;
    v[1] = -0.5f;
    v[2] = 0.5f;
    v[3] = 2.5f;
  }
  if (n >= 256) {
    // A super-block whose largest magnitude appears first as +5 then as -5 (sign of the first
    // wins), and one whose scale is exactly 1 so that ties round to even.
    float* v = x.data();
    for (int j = 0; j < 256; ++j) v[j] = 0.25f * static_cast<float>((j % 13) - 6);
    v[3] = 5.0f;
    v[10] = -5.0f;
    if (n >= 512) {
      float* u = x.data() + 256;
      for (int j = 0; j < 256; ++j) u[j] = static_cast<float>(j % 9) - 4.5f;
      u[7] = -127.0f;
    }
  }
  return x;
}

TEST(SimdQuantize, Q8_0MatchesReferenceOnEveryLevel) {
  std::mt19937 rng(5);
  for (int64_t n : {32, 64, 4096 + 32}) {
    const auto x = tricky_row(n, rng);
    const int64_t nb = n / 32;
    std::vector<uint8_t> want(act_row_bytes(TensorType::Q8_0, n));
    for_isa(Isa::Scalar)->quantize_activations(TensorType::Q8_0, x.data(), n, want.data());
    // The block part equals the quant module's Q8_0 quantizer; the sums are sums of the quants.
    std::vector<uint8_t> blocks(row_bytes(TensorType::Q8_0, n));
    quant::quantize_rows(TensorType::Q8_0, x.data(), blocks.data(), 1, n);
    ASSERT_EQ(0, std::memcmp(blocks.data(), want.data(), blocks.size())) << "n " << n;
    for (int64_t b = 0; b < nb; ++b) {
      int sum = 0;
      for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(want[34 * b + 2 + j]);
      int16_t stored;
      std::memcpy(&stored, &want[34 * nb + 2 * b], 2);
      EXPECT_EQ(stored, sum);
    }
    for (const KernelSet* ks : usable_sets()) {
      std::vector<uint8_t> got(want.size(), 0xcd);
      ks->quantize_activations(TensorType::Q4_0, x.data(), n, got.data());
      EXPECT_EQ(got, want) << isa_name(ks->isa) << " n " << n;
    }
  }
}

TEST(SimdQuantize, Q8_KMatchesReferenceOnEveryLevel) {
  std::mt19937 rng(6);
  for (int64_t n : {256, 512, 4096}) {
    auto x = tricky_row(n, rng);
    if (n == 4096)
      for (int j = 0; j < 256; ++j) x[1024 + j] = 0.0f;  // an all-zero super-block
    std::vector<uint8_t> want(row_bytes(TensorType::Q8_K, n));
    quant::quantize_rows(TensorType::Q8_K, x.data(), want.data(), 1, n);
    for (const KernelSet* ks : usable_sets()) {
      std::vector<uint8_t> got(act_row_bytes(TensorType::Q4_K, n), 0xcd);
      ASSERT_EQ(got.size(), want.size());
      ks->quantize_activations(TensorType::Q4_K, x.data(), n, got.data());
      EXPECT_EQ(got, want) << isa_name(ks->isa) << " n " << n;
    }
  }
}

TEST(SimdQuantize, F32ActivationsAreCopied) {
  const std::vector<float> x = {1.5f, -2.0f, 3.25f};
  std::vector<float> out(3);
  active().quantize_activations(TensorType::F16, x.data(), 3, out.data());
  EXPECT_EQ(out, x);
  EXPECT_EQ(act_row_bytes(TensorType::BF16, 3), 12u);
}

TEST(SimdQuantize, ActivationSizes) {
  EXPECT_EQ(act_type(TensorType::Q4_0), ActType::Q8_0);
  EXPECT_EQ(act_type(TensorType::IQ4_NL), ActType::Q8_0);
  EXPECT_EQ(act_type(TensorType::Q6_K), ActType::Q8_K);
  EXPECT_EQ(act_row_bytes(TensorType::Q5_1, 64), 2u * 36u);
  EXPECT_EQ(act_row_bytes(TensorType::Q2_K, 512), 2u * sizeof(blk::BlockQ8_K));
  EXPECT_THROW(act_row_bytes(TensorType::Q4_K, 100), Error);
}

}  // namespace
}  // namespace edgellm::kernels::test
