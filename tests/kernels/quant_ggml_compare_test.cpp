// Optional: byte-for-byte comparison with a real ggml build. Set EDGELLM_GGML_BASE_LIB to a
// libggml-base.so (for instance the one in the npm package @node-llama-cpp/linux-x64, under
// bins/linux-x64/); the test skips when it is unset. It quantizes the same rows with
// ggml_quantize_chunk (what llama-quantize calls) and with us, without and with importance
// weights, and dequantizes ggml's bytes with both.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "kernels/quant/quant.h"

namespace edgellm::quant {
namespace {

using QuantizeChunkFn = size_t (*)(int type, const float* src, void* dst, int64_t start, int64_t nrows,
                                   int64_t n_per_row, const float* imatrix);
using RowFn = void (*)(const void* src, void* dst, int64_t k);

constexpr int64_t kRowLen = 1024;

std::vector<float> make_rows() {
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0, 1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x;
  auto row = [&](auto&& f) {
    for (int64_t j = 0; j < kRowLen; ++j) x.push_back(f(j));
  };
  for (float s : {1e-4f, 1e-2f, 1.f, 50.f, 3e3f})
    for (int r = 0; r < 40; ++r) row([&](int64_t) { return s * g(rng); });
  for (int r = 0; r < 20; ++r) row([&](int64_t) { return u(rng); });
  for (int r = 0; r < 20; ++r) row([&](int64_t) { return std::fabs(g(rng)) + 2.f; });
  for (int r = 0; r < 20; ++r) row([&](int64_t j) { return j % 97 == r ? 300.f * (r % 2 ? -1.f : 1.f) : g(rng); });
  for (int r = 0; r < 10; ++r) row([&](int64_t j) { return (j / 16) % 3 == 0 ? 0.f : g(rng); });
  for (int r = 0; r < 10; ++r) row([&](int64_t) { return std::round(4 * g(rng)) / 4; });
  for (int r = 0; r < 5; ++r) row([&](int64_t) { return 1e-39f * g(rng); });
  row([](int64_t) { return 0.f; });
  row([](int64_t) { return -5.f; });
  return x;
}

class GgmlCompare : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = std::getenv("EDGELLM_GGML_BASE_LIB");
    if (!path || !*path) GTEST_SKIP() << "EDGELLM_GGML_BASE_LIB not set: comparison with a real ggml skipped";
    lib_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib_, nullptr) << "cannot load " << path << ": " << dlerror();
    quantize_chunk_ = reinterpret_cast<QuantizeChunkFn>(dlsym(lib_, "ggml_quantize_chunk"));
    ASSERT_NE(quantize_chunk_, nullptr);
  }
  void TearDown() override {
    if (lib_) dlclose(lib_);
  }
  RowFn symbol(const std::string& name) { return reinterpret_cast<RowFn>(dlsym(lib_, name.c_str())); }

  void* lib_ = nullptr;
  QuantizeChunkFn quantize_chunk_ = nullptr;
};

TEST_F(GgmlCompare, QuantizeAndDequantizeAreIdentical) {
  const std::vector<float> x = make_rows();
  const int64_t n_rows = static_cast<int64_t>(x.size()) / kRowLen;
  std::mt19937 rng(6);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> lognormal(kRowLen), sparse(kRowLen);
  for (auto& w : lognormal) w = std::exp(2 * g(rng));
  for (int64_t j = 0; j < kRowLen; ++j) sparse[j] = j % 5 ? 0.f : std::exp(g(rng));
  const TensorType types[] = {TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
                              TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,
                              TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                              TensorType::IQ4_NL};
  for (TensorType type : types) {
    const auto& t = traits(type);
    const size_t bytes = row_bytes(type, kRowLen) * static_cast<size_t>(n_rows);
    const std::vector<const float*> weight_sets = {nullptr, lognormal.data(), sparse.data()};
    for (const float* importance : weight_sets) {
      std::vector<uint8_t> ours(bytes), theirs(bytes);
      quantize_rows(type, x.data(), ours.data(), n_rows, kRowLen, importance);
      quantize_chunk_(static_cast<int>(type), x.data(), theirs.data(), 0, n_rows, kRowLen, importance);
      int64_t differing = 0;
      for (size_t b = 0; b < bytes / t.block_bytes; ++b)
        differing += std::memcmp(&ours[b * t.block_bytes], &theirs[b * t.block_bytes], t.block_bytes) != 0;
      EXPECT_EQ(differing, 0) << t.name << (importance ? " with importance" : "") << ": blocks differ";
      if (importance || t.block_size == 1) continue;
      const RowFn dequantize = symbol("dequantize_row_" + std::string(t.name));
      ASSERT_NE(dequantize, nullptr) << t.name;
      std::vector<float> a(x.size()), b(x.size());
      dequantize_row(type, theirs.data(), a.data(), static_cast<int64_t>(x.size()));
      dequantize(theirs.data(), b.data(), static_cast<int64_t>(x.size()));
      int64_t values = 0;
      for (size_t i = 0; i < a.size(); ++i) values += std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i]);
      EXPECT_EQ(values, 0) << t.name << ": dequantized values differ";
    }
  }
}

}  // namespace
}  // namespace edgellm::quant
