// Runs the built `edgellm` binary (EDGELLM_CLI) on generated GGUF files: `info` in text and
// JSON form, `dump-tensor`, and the error path on corrupt or missing input.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf_writer.h"
#include "kernels/quant/quant.h"

namespace edgellm::gguf {
namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("edgellm_cli_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  // Arguments are single-quoted for sh; test paths hold no quotes.
  RunResult run(const std::string& args) const {
    const std::string out = file("stdout.txt");
    const std::string err = file("stderr.txt");
    const std::string command = fmt::format("'{}' {} >'{}' 2>'{}'", EDGELLM_CLI, args, out, err);
    const int status = std::system(command.c_str());
    RunResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_all(out);
    r.err = read_all(err);
    return r;
  }

  std::filesystem::path dir_;
};

// Half-precision and bfloat16 bit patterns of exactly representable values, written by hand
// so the expected floats do not depend on any conversion code under test.
struct HalfCase {
  uint16_t bits;
  float value;
};
constexpr HalfCase kF16Cases[] = {{0x3C00, 1.0f}, {0xC000, -2.0f}, {0x3800, 0.5f},
                                  {0x7BFF, 65504.0f}, {0x0001, 5.9604644775390625e-08f}, {0x0000, 0.0f}};
constexpr HalfCase kBf16Cases[] = {{0x3F80, 1.0f}, {0xC040, -3.0f}, {0x4780, 65536.0f}, {0x3E80, 0.25f}};

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::string write_model(const std::string& path) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.long", std::string(500, 'L'));
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 1e-5f);
  std::vector<std::string> tokens;
  for (int i = 0; i < 100; ++i) tokens.push_back("tok" + std::to_string(i));
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("short", {1, 2, 3});
  w.add_tensor("f32.mat", TensorType::F32, {3, 2}, as_bytes(std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::vector<uint16_t> f16;
  for (const auto& c : kF16Cases) f16.push_back(c.bits);
  w.add_tensor("f16.mat", TensorType::F16, {2, 3}, as_bytes(f16));
  std::vector<uint16_t> bf16;
  for (const auto& c : kBf16Cases) bf16.push_back(c.bits);
  w.add_tensor("bf16.vec", TensorType::BF16, {4}, as_bytes(bf16));
  // Over a million elements, so dump-tensor converts it in more than one batch.
  std::vector<uint16_t> big(1000 * 1100);
  for (size_t i = 0; i < big.size(); ++i) big[i] = kF16Cases[i % 6].bits;
  w.add_tensor("big.f16", TensorType::F16, {1000, 1100}, as_bytes(big));
  w.write_file(path);
  return path;
}

std::vector<float> read_floats(const std::string& path) {
  const std::string bytes = read_all(path);
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  EXPECT_EQ(bytes.size() % 4, 0u);
  return v;
}

TEST_F(CliTest, InfoText) {
  const std::string model = write_model(file("m.gguf"));
  const RunResult r = run("info '" + model + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GGUF v3"), std::string::npos);
  EXPECT_NE(r.out.find("general.architecture"), std::string::npos);
  EXPECT_NE(r.out.find("\"llama\""), std::string::npos);
  EXPECT_NE(r.out.find("1e-05"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("... (500 bytes)"), std::string::npos) << "long string not truncated";
  EXPECT_EQ(r.out.find(std::string(500, 'L')), std::string::npos);
  EXPECT_NE(r.out.find("array[string]"), std::string::npos);
  EXPECT_NE(r.out.find("\"tok0\""), std::string::npos);
  EXPECT_NE(r.out.find("... (100 items)"), std::string::npos) << "long array not summarised";
  EXPECT_EQ(r.out.find("\"tok99\""), std::string::npos);
  EXPECT_NE(r.out.find("[1, 2, 3]"), std::string::npos);
  EXPECT_NE(r.out.find("tensors (4,"), std::string::npos);
  EXPECT_NE(r.out.find("big.f16"), std::string::npos);
  EXPECT_NE(r.out.find("[1000, 1100]"), std::string::npos);
  EXPECT_NE(r.out.find("2200000"), std::string::npos);  // bytes of big.f16
  EXPECT_TRUE(r.err.empty()) << r.err;

  const RunResult full = run("info --full '" + model + "'");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_NE(full.out.find("\"tok99\"]"), std::string::npos);
  EXPECT_NE(full.out.find(std::string(500, 'L')), std::string::npos);
}

TEST_F(CliTest, InfoJson) {
  const std::string model = write_model(file("m.gguf"));
  const RunResult r = run("info --json '" + model + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto doc = nlohmann::json::parse(r.out);  // exactly one JSON document
  EXPECT_EQ(doc["version"], 3);
  EXPECT_EQ(doc["alignment"], 32);
  const auto& md = doc["metadata"];
  EXPECT_EQ(md["general.architecture"], "llama");
  EXPECT_EQ(md["general.long"].get<std::string>().size(), 500u);
  EXPECT_EQ(md["llama.block_count"], 2);
  EXPECT_EQ(md["llama.rope.freq_base"].get<double>(), 1e-5);
  EXPECT_EQ(md["short"], nlohmann::json::array({1, 2, 3}));
  EXPECT_EQ(md["tokenizer.ggml.tokens"]["count"], 100);
  EXPECT_EQ(md["tokenizer.ggml.tokens"]["first"][0], "tok0");
  ASSERT_EQ(doc["tensors"].size(), 4u);
  const auto& t = doc["tensors"][3];
  EXPECT_EQ(t["name"], "big.f16");
  EXPECT_EQ(t["type"], "f16");
  EXPECT_EQ(t["shape"], nlohmann::json::array({1000, 1100}));
  EXPECT_EQ(t["n_bytes"], 2200000);
  EXPECT_EQ(t["offset"].get<uint64_t>() % 32, 0u);

  const RunResult full = run("info --json --full '" + model + "'");
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const auto tokens = nlohmann::json::parse(full.out)["metadata"]["tokenizer.ggml.tokens"];
  ASSERT_TRUE(tokens.is_array());
  ASSERT_EQ(tokens.size(), 100u);
  EXPECT_EQ(tokens[99], "tok99");
}

TEST_F(CliTest, DumpTensorF32F16Bf16) {
  const std::string model = write_model(file("m.gguf"));
  const std::string out = file("t.f32");

  ASSERT_EQ(run("dump-tensor '" + model + "' f32.mat --out '" + out + "'").exit_code, 0);
  EXPECT_EQ(read_floats(out), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  // Conversions of these values are exact, so the comparison is exact.
  ASSERT_EQ(run("dump-tensor '" + model + "' f16.mat -o '" + out + "'").exit_code, 0);
  std::vector<float> expected;
  for (const auto& c : kF16Cases) expected.push_back(c.value);
  EXPECT_EQ(read_floats(out), expected);

  ASSERT_EQ(run("dump-tensor '" + model + "' bf16.vec --out '" + out + "'").exit_code, 0);
  expected.clear();
  for (const auto& c : kBf16Cases) expected.push_back(c.value);
  EXPECT_EQ(read_floats(out), expected);

  const RunResult big = run("dump-tensor '" + model + "' big.f16 --out '" + out + "'");
  ASSERT_EQ(big.exit_code, 0) << big.err;
  const std::vector<float> values = read_floats(out);
  ASSERT_EQ(values.size(), 1100000u);
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], kF16Cases[i % 6].value) << i;
  EXPECT_NE(big.out.find("1100 rows x 1000"), std::string::npos) << big.out;
}

// Q8_0 by hand: each block of 32 is an f16 scale and 32 int8 values, element = scale * q. Scales
// 1 and 0.5 and small q make every product exact, so the comparison is exact.
TEST_F(CliTest, DumpTensorQ8_0) {
  std::vector<uint8_t> blocks;
  std::vector<float> expected;
  for (const HalfCase& scale : {kF16Cases[0], kF16Cases[2]}) {
    blocks.push_back(static_cast<uint8_t>(scale.bits & 0xFF));
    blocks.push_back(static_cast<uint8_t>(scale.bits >> 8));
    for (int i = 0; i < 32; ++i) {
      const int8_t q = static_cast<int8_t>(i * 7 % 64 - 32);
      blocks.push_back(static_cast<uint8_t>(q));
      expected.push_back(scale.value * q);
    }
  }
  GgufWriter w;
  w.add_tensor("q", TensorType::Q8_0, {32, 2}, blocks);
  const std::string model = file("q.gguf");
  w.write_file(model);
  const std::string out = file("q.f32");
  const RunResult r = run("dump-tensor '" + model + "' q --out '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_floats(out), expected);
}

// A type the kernels cannot dequantize gives an error, not garbage (skipped once all can).
TEST_F(CliTest, DumpTensorUnsupportedType) {
  std::optional<TensorTypeTraits> unsupported;
  for (uint32_t id = 0; id < 64 && !unsupported; ++id) {
    const auto t = tensor_type_traits(id);
    if (t && !quant::can_dequantize(t->type)) unsupported = t;
  }
  if (!unsupported) GTEST_SKIP() << "every tensor type can be dequantized";
  GgufWriter w;
  w.add_tensor("u", unsupported->type, {unsupported->block_size},
               std::vector<uint8_t>(unsupported->block_bytes, 0));
  const std::string model = file("u.gguf");
  w.write_file(model);
  const RunResult r = run("dump-tensor '" + model + "' u --out '" + file("u.f32") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot be dequantized"), std::string::npos) << r.err;
}

TEST_F(CliTest, ErrorsGoToStderrWithNonZeroExit) {
  const std::string model = write_model(file("m.gguf"));
  const std::string out = file("t.f32");

  RunResult r = run("dump-tensor '" + model + "' no.such.tensor --out '" + out + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no.such.tensor"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));

  r = run("info '" + file("missing.gguf") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;

  // Corrupt the first tensor's type id: the reader names the byte offset.
  std::string bytes = read_all(model);
  const size_t at = bytes.find("f32.mat") + 7 + 4 + 2 * 8;  // name, n_dims, dims -> type
  bytes[at] = 99;
  const std::string corrupt = file("corrupt.gguf");
  std::ofstream(corrupt, std::ios::binary) << bytes;
  r = run("info '" + corrupt + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("unknown tensor type id 99"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(fmt::format("byte offset {}", at)), std::string::npos) << r.err;

  const std::string truncated = file("truncated.gguf");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, 100);
  r = run("info --json '" + truncated + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("offset"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgellm::gguf
