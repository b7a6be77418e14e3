#include "runtime/kv_cache.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "core/fp16.h"

namespace edgellm::runtime {
namespace {

TEST(KvCache, StoresAndReadsColumnsF32Exactly) {
  KvCache kv(8, {{6, 4}, {2, 2}}, KvType::F32);
  std::vector<float> k(3 * 6), v(3 * 4);
  for (size_t i = 0; i < k.size(); ++i) k[i] = 0.1f * static_cast<float>(i) + 0.0123f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = -0.2f * static_cast<float>(i);
  kv.store(0, 2, 3, k.data(), v.data());  // positions 2..4
  std::vector<float> out(5 * 3);
  kv.read_k(0, 5, 3, 3, out.data());      // columns 3..5 of positions 0..4
  for (int p = 2; p < 5; ++p)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(out[static_cast<size_t>(p * 3 + c)], k[static_cast<size_t>((p - 2) * 6 + 3 + c)]);
  std::vector<float> vout(5 * 4);
  kv.read_v(0, 5, 0, 4, vout.data());
  for (int p = 2; p < 5; ++p)
    for (int c = 0; c < 4; ++c) EXPECT_EQ(vout[static_cast<size_t>(p * 4 + c)], v[static_cast<size_t>((p - 2) * 4 + c)]);
  EXPECT_EQ(kv.size_bytes(), 8u * (6 + 4 + 2 + 2) * 4);
}

TEST(KvCache, F16RoundsToHalfPrecision) {
  KvCache kv(4, {{2, 2}}, KvType::F16);
  const float k[2] = {1.0f / 3.0f, 1000.123f};
  const float v[2] = {-2.5e-3f, 7.0f};
  kv.store(0, 0, 1, k, v);
  float out[2];
  kv.read_k(0, 1, 0, 2, out);
  EXPECT_EQ(out[0], fp16_to_fp32(fp32_to_fp16(k[0])));
  EXPECT_EQ(out[1], fp16_to_fp32(fp32_to_fp16(k[1])));
  EXPECT_NE(out[0], k[0]);  // it really is rounded
  EXPECT_EQ(kv.size_bytes(), 4u * 4 * 2);
}

TEST(KvCache, ContextFullAndBadArgumentsAreErrors) {
  KvCache kv(4, {{2, 2}}, KvType::F32);
  std::vector<float> k(10, 1.0f), v(10, 1.0f);
  kv.store(0, 0, 4, k.data(), v.data());
  try {
    kv.store(0, 3, 2, k.data(), v.data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context is full"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kv.store(1, 0, 1, k.data(), v.data()), Error);
  std::vector<float> out(20);
  EXPECT_THROW(kv.read_k(0, 5, 0, 2, out.data()), Error);
  EXPECT_THROW(kv.read_k(0, 2, 1, 2, out.data()), Error);
  EXPECT_THROW(KvCache(0, {{2, 2}}, KvType::F16), Error);
  EXPECT_THROW(kv_type_from_name("q8"), Error);
  EXPECT_EQ(kv_type_from_name("f32"), KvType::F32);
}

}  // namespace
}  // namespace edgellm::runtime
