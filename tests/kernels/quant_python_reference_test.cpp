// Cross-checks the quantizers against tests/kernels/quant_reference.py, an independent numpy
// implementation written from the format definitions: byte-exact quantization for F16, BF16,
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 on thousands of blocks (random and edge cases), and bit-exact
// dequantization of random blocks of every format.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "kernels/quant/quant.h"

namespace edgellm::quant {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kRowLen = 256;

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

template <class T>
void write_file(const fs::path& path, const std::vector<T>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size() * sizeof(T)));
}

// Rows of 256 values: random data at several scales plus the edge cases of the formats.
std::vector<float> make_inputs() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> gauss(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::vector<float> x;
  auto row = [&](auto&& value) {
    for (int64_t j = 0; j < kRowLen; ++j) x.push_back(value(j));
  };
  for (float sigma : {1e-3f, 1.f, 37.f, 1e3f})
    for (int r = 0; r < 60; ++r) row([&](int64_t) { return sigma * gauss(rng); });
  for (int r = 0; r < 40; ++r) row([&](int64_t) { return uniform(rng); });
  for (int r = 0; r < 20; ++r) row([&](int64_t) { return -std::fabs(gauss(rng)); });  // negative only
  for (int r = 0; r < 20; ++r) row([&](int64_t) { return std::fabs(gauss(rng)) + 3.f; });  // positive, offset
  for (int r = 0; r < 20; ++r)  // one huge outlier per block
    row([&](int64_t j) { return j % 32 == (r % 32) ? 1e4f * (r % 2 ? -1.f : 1.f) : gauss(rng); });
  row([](int64_t) { return 0.f; });
  row([](int64_t j) { return j % 3 ? 0.f : -0.f; });
  row([](int64_t) { return 0.37f; });
  row([](int64_t) { return -5.f; });
  row([](int64_t j) { return j % 32 == 5 ? 2.f : 0.f; });
  for (int r = 0; r < 10; ++r) row([&](int64_t) { return 1e-39f * gauss(rng); });  // subnormal inputs
  for (int r = 0; r < 10; ++r) row([&](int64_t) { return 1e-41f * gauss(rng); });  // 1/d overflows
  for (int r = 0; r < 10; ++r) row([&](int64_t) { return 1e-7f * gauss(rng); });   // fp16 scale subnormal
  for (int r = 0; r < 10; ++r) row([&](int64_t) { return 1e6f * gauss(rng); });    // fp16 scale overflows
  // Exact rounding ties: absmax 127 (so Q8_0's d = 1) with half-integer values, and multiples
  // of 0.5 around the Q4 / Q5 level midpoints.
  row([](int64_t j) { return j % 32 == 0 ? 127.f : static_cast<float>(j % 32) - 15.5f; });
  row([](int64_t j) { return j % 32 == 0 ? -8.f : static_cast<float>(j % 16) * 0.5f - 4.f; });
  row([](int64_t j) { return j % 32 == 0 ? 16.f : static_cast<float>(j % 32) * 0.5f - 8.f; });
  row([](int64_t j) { return static_cast<float>(j % 32) * 0.25f; });
  return x;
}

// Random block bytes whose fp16 (or Q8_K's f32) scale fields are finite, so that every output
// is a finite number that must agree bit for bit.
std::vector<uint8_t> random_blocks(TensorType type, int64_t n_blocks, std::mt19937& rng) {
  const auto& t = traits(type);
  std::vector<uint8_t> bytes(static_cast<size_t>(n_blocks) * t.block_bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : bytes) b = static_cast<uint8_t>(byte(rng));
  // Byte offsets of the scale fields (file-format facts, see ggml-common.h).
  std::vector<size_t> half_fields;
  switch (type) {
    case TensorType::F16: half_fields = {0}; break;
    case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: case TensorType::IQ4_NL:
      half_fields = {0}; break;
    case TensorType::Q4_1: case TensorType::Q5_1: case TensorType::Q8_1: case TensorType::Q4_K:
    case TensorType::Q5_K: half_fields = {0, 2}; break;
    case TensorType::Q2_K: half_fields = {80, 82}; break;
    case TensorType::Q3_K: half_fields = {108}; break;
    case TensorType::Q6_K: half_fields = {208}; break;
    default: break;
  }
  for (int64_t i = 0; i < n_blocks; ++i) {
    uint8_t* block = bytes.data() + i * t.block_bytes;
    for (size_t off : half_fields)
      if ((block[off + 1] & 0x7C) == 0x7C) block[off + 1] &= 0xBF;  // exponent 31 -> 15
    if (type == TensorType::BF16 && (block[1] & 0x7F) == 0x7F && (block[0] & 0x80)) block[1] &= 0xBF;
    if (type == TensorType::Q8_K) {
      const float d = std::ldexp(std::uniform_real_distribution<float>(-1.f, 1.f)(rng), byte(rng) % 40 - 20);
      std::memcpy(block, &d, sizeof d);
    }
  }
  return bytes;
}

bool python_with_numpy() {
  static const bool available = std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") == 0;
  return available;
}

const std::vector<TensorType> kDequantTypes = {
    TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
    TensorType::Q5_1, TensorType::Q8_0, TensorType::Q8_1, TensorType::Q2_K, TensorType::Q3_K,
    TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::Q8_K, TensorType::IQ4_NL};

// Writes all inputs once and runs the script once (starting python with torch takes seconds).
class PythonReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!python_with_numpy()) return;
    dir_ = fs::temp_directory_path() / ("edgellm_quant_ref_" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    inputs_ = make_inputs();
    write_file(dir_ / "input.f32", inputs_);
    std::mt19937 rng(99);
    for (TensorType type : kDequantTypes) {
      const int64_t n_blocks = traits(type).block_size == 1 ? 65536 : 3000;
      blocks_.push_back(random_blocks(type, n_blocks, rng));
      write_file(dir_ / ("blocks_" + std::string(type_name(type)) + ".bin"), blocks_.back());
    }
    const std::string cmd = std::string("/usr/bin/python3 ") + EDGELLM_SOURCE_DIR +
                            "/tests/kernels/quant_reference.py '" + dir_.string() + "'";
    script_ok_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  void SetUp() override {
    if (!python_with_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found: python reference skipped";
    ASSERT_TRUE(script_ok_) << "tests/kernels/quant_reference.py failed";
  }
  static inline fs::path dir_;
  static inline std::vector<float> inputs_;
  static inline std::vector<std::vector<uint8_t>> blocks_;
  static inline bool script_ok_ = false;
};

TEST_F(PythonReference, QuantizationIsByteExact) {
  const std::vector<float>& x = inputs_;
  const int64_t n_rows = static_cast<int64_t>(x.size()) / kRowLen;
  for (TensorType type : {TensorType::F16, TensorType::BF16, TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1,
                          TensorType::Q5_0, TensorType::Q5_1}) {
    const auto& t = traits(type);
    std::vector<uint8_t> ours(row_bytes(type, kRowLen) * static_cast<size_t>(n_rows));
    quantize_rows(type, x.data(), ours.data(), n_rows, kRowLen);
    const std::vector<uint8_t> ref = read_file(dir_ / ("ref_quant_" + std::string(t.name) + ".bin"));
    ASSERT_EQ(ref.size(), ours.size()) << t.name;
    int64_t mismatched_blocks = 0;
    for (size_t b = 0; b < ours.size() / t.block_bytes; ++b) {
      if (std::memcmp(&ours[b * t.block_bytes], &ref[b * t.block_bytes], t.block_bytes) == 0) continue;
      if (++mismatched_blocks <= 3) {
        ADD_FAILURE() << t.name << ": block " << b << " (input " << x[b * t.block_size] << ", ...) differs";
      }
    }
    EXPECT_EQ(mismatched_blocks, 0) << t.name << " of " << ours.size() / t.block_bytes << " blocks";
  }
}

TEST_F(PythonReference, DequantizationIsBitExact) {
  const auto& types = kDequantTypes;
  const auto& blocks = blocks_;
  for (size_t k = 0; k < types.size(); ++k) {
    const auto& t = traits(types[k]);
    const int64_t n = static_cast<int64_t>(blocks[k].size() / t.block_bytes) * t.block_size;
    std::vector<float> ours(static_cast<size_t>(n));
    dequantize_row(types[k], blocks[k].data(), ours.data(), n);
    const std::vector<uint8_t> ref_bytes = read_file(dir_ / ("ref_dequant_" + std::string(t.name) + ".f32"));
    ASSERT_EQ(ref_bytes.size(), ours.size() * sizeof(float)) << t.name;
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i) {
      uint32_t ref_bits;
      std::memcpy(&ref_bits, &ref_bytes[static_cast<size_t>(i) * 4], 4);
      const uint32_t our_bits = std::bit_cast<uint32_t>(ours[i]);
      if (our_bits == ref_bits) continue;
      if (++mismatches <= 3)
        ADD_FAILURE() << t.name << ": element " << i << " is " << ours[i] << ", reference "
                      << std::bit_cast<float>(ref_bits);
    }
    EXPECT_EQ(mismatches, 0) << t.name;
  }
}

}  // namespace
}  // namespace edgellm::quant
