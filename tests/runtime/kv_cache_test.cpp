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

// The shared row conversion with row strides wider than the rows read and an output stride
// wider still: every value lands where it belongs, F32 copied, F16 widened exactly.
TEST(KvRowsToF32, HonoursBothStridesForBothTypes) {
  constexpr int64_t kRows = 3, kCols = 5;
  constexpr size_t kSrcStride = 7, kOutStride = 9;
  std::vector<float> f32(kRows * kSrcStride);
  std::vector<uint16_t> f16(kRows * kSrcStride);
  for (size_t i = 0; i < f32.size(); ++i) {
    f32[i] = 0.25f * static_cast<float>(i) - 3.0f;  // exact in half precision too
    f16[i] = fp32_to_fp16(f32[i]);
  }
  for (const KvType type : {KvType::F32, KvType::F16}) {
    std::vector<float> out(kRows * kOutStride, -99.0f);
    const void* src = type == KvType::F32 ? static_cast<const void*>(f32.data()) : f16.data();
    kv_rows_to_f32(type, src, kSrcStride, kRows, kCols, out.data(), kOutStride);
    for (int64_t r = 0; r < kRows; ++r)
      for (size_t c = 0; c < kOutStride; ++c) {
        const float want = static_cast<int64_t>(c) < kCols ? f32[static_cast<size_t>(r) * kSrcStride + c] : -99.0f;
        EXPECT_EQ(out[static_cast<size_t>(r) * kOutStride + c], want) << kv_type_name(type) << " row " << r << " col " << c;
      }
  }
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
