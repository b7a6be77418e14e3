// The safetensors reader on valid and malformed files: every header problem must be a clear
// edgellm::Error, never an out-of-bounds read.
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/fp16.h"
#include "model/model_test_util.h"

namespace edgellm::model {
namespace {

std::vector<uint8_t> file_bytes(const std::string& header, const std::vector<uint8_t>& data,
                                int64_t claimed_len = -1) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t len = claimed_len < 0 ? header.size() : static_cast<uint64_t>(claimed_len);
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(len >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile::from_buffer(bytes, "test.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Safetensors, ReadsAllDtypes) {
  std::vector<uint8_t> data(4 * 2 + 2 * 3 + 2 * 2);
  const float f[2] = {1.5f, -2.25f};
  std::memcpy(data.data(), f, 8);
  const uint16_t h[3] = {fp32_to_fp16(0.5f), fp32_to_fp16(-3.0f), fp32_to_fp16(65504.0f)};
  std::memcpy(data.data() + 8, h, 6);
  const uint16_t b[2] = {fp32_to_bf16(7.0f), fp32_to_bf16(-0.125f)};
  std::memcpy(data.data() + 14, b, 4);
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},)"
      R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"c":{"dtype":"BF16","shape":[2,1],"data_offsets":[14,18]}})";
  const auto bytes = file_bytes(header, data);
  const SafetensorsFile f_ = SafetensorsFile::from_buffer(bytes, "t");
  ASSERT_EQ(f_.tensors().size(), 3u);
  EXPECT_EQ(f_.tensors()[0].name, "a");  // sorted by name
  EXPECT_EQ(f_.find("a")->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(f_.read_f32(*f_.find("a")), (std::vector<float>{1.5f, -2.25f}));
  EXPECT_EQ(f_.read_f32(*f_.find("b")), (std::vector<float>{0.5f, -3.0f, 65504.0f}));
  EXPECT_EQ(f_.read_f32(*f_.find("c")), (std::vector<float>{7.0f, -0.125f}));
  EXPECT_EQ(f_.find("zzz"), nullptr);
}

TEST(Safetensors, MalformedFilesAreClearErrors) {
  const std::vector<uint8_t> four(4, 0);
  EXPECT_NE(error_of({1, 2, 3}).find("too short"), std::string::npos);
  EXPECT_NE(error_of(file_bytes("{}", {}, int64_t{1} << 40)).find("exceeds the limit"), std::string::npos);
  EXPECT_NE(error_of(file_bytes("{}", {}, 500)).find("past the end"), std::string::npos);
  EXPECT_NE(error_of(file_bytes("{not json", {})).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(file_bytes("[1,2]", {})).find("JSON object"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::vector<uint8_t>(8)))
                .find("dtype I64"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four))
                .find("outside"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", four))
                .find("outside"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,4]}})", four))
                .find("need"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four))
                .find("non-negative"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", four))
                .find("large"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", four)).find("no shape"),
            std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", four))
                .find("data_offsets"), std::string::npos);
  EXPECT_NE(error_of(file_bytes(R"({"a":5})", four)).find("not an object"), std::string::npos);
}

TEST(Safetensors, ShardedCheckpointFollowsTheIndex) {
  test::TempDir dir("edgellm-st");
  const auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(dir.path() / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                            static_cast<std::streamsize>(bytes.size()));
  };
  const std::vector<uint8_t> four(4, 0);
  write("s1.safetensors", file_bytes(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four));
  write("s2.safetensors", file_bytes(R"({"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four));
  write("model.safetensors.index.json", std::vector<uint8_t>{});
  std::ofstream(dir.path() / "model.safetensors.index.json")
      << R"({"metadata":{},"weight_map":{"x":"s1.safetensors","y":"s2.safetensors"}})";
  const auto ckpt = SafetensorsCheckpoint::open_dir(dir.path().string());
  ASSERT_EQ(ckpt.tensors().size(), 2u);
  EXPECT_NE(ckpt.find("y"), nullptr);

  std::ofstream(dir.path() / "model.safetensors.index.json")
      << R"({"weight_map":{"x":"s1.safetensors","z":"s2.safetensors"}})";
  try {
    SafetensorsCheckpoint::open_dir(dir.path().string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'z'"), std::string::npos) << e.what();
  }
  std::ofstream(dir.path() / "model.safetensors.index.json") << R"({"weight_map":{"x":"../s1.safetensors"}})";
  EXPECT_THROW(SafetensorsCheckpoint::open_dir(dir.path().string()), Error);
  std::filesystem::remove(dir.path() / "model.safetensors.index.json");
  EXPECT_THROW(SafetensorsCheckpoint::open_dir(dir.path().string()), Error);  // no model.safetensors
}

}  // namespace
}  // namespace edgellm::model
