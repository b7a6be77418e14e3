// Writer -> reader round trips: every metadata value type (nested arrays and string arrays
// included) and tensors of several types and shapes, through memory, a file, a descriptor and
// the streaming writer.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf/resident_pages.h"

namespace edgellm::gguf {
namespace {

std::vector<uint8_t> pattern_bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

Value nested_array() {
  Array inner_a{ValueType::I16, {Value{int16_t{-3}}, Value{int16_t{4}}}};
  Array inner_b{ValueType::I16, {}};
  Array strings{ValueType::STRING, {Value{std::string("x")}, Value{std::string("")}}};
  Array outer{ValueType::ARRAY, {Value{inner_a}, Value{inner_b}, Value{strings}}};
  return Value{Array{ValueType::ARRAY, {Value{outer}}}};
}

// One key per value type, in a fixed order.
GgufWriter writer_with_all_types() {
  GgufWriter w;
  w.set("v.u8", Value{uint8_t{250}});
  w.set("v.i8", Value{int8_t{-120}});
  w.set("v.u16", Value{uint16_t{65000}});
  w.set("v.i16", Value{int16_t{-32000}});
  w.set_u32("v.u32", 4000000000u);
  w.set_i32("v.i32", -2000000000);
  w.set_f32("v.f32", 1.5f);
  w.set_bool("v.bool", true);
  w.set_string("v.string", "héllo\nworld");
  w.set_u64("v.u64", 18000000000000000000ull);
  w.set("v.i64", Value{int64_t{-9000000000000000000ll}});
  w.set("v.f64", Value{3.141592653589793});
  w.set_string_array("v.strings", {"a", "", "long string with spaces", std::string(300, 'z')});
  w.set_f32_array("v.floats", {0.f, -1.25f, 1e30f});
  w.set_i32_array("v.ints", {1, -2, 3});
  w.set("v.empty", Value{Array{ValueType::U64, {}}});
  w.set("v.nested", nested_array());
  return w;
}

void expect_all_types(const GgufFile& f) {
  EXPECT_EQ(f.get_uint("v.u8"), 250u);
  EXPECT_EQ(f.get_int("v.i8"), -120);
  EXPECT_EQ(f.get_uint("v.u16"), 65000u);
  EXPECT_EQ(f.get_int("v.i16"), -32000);
  EXPECT_EQ(f.get_uint("v.u32"), 4000000000u);
  EXPECT_EQ(f.get_int("v.i32"), -2000000000);
  EXPECT_EQ(f.get_float("v.f32"), 1.5);
  EXPECT_TRUE(f.get_bool("v.bool"));
  EXPECT_EQ(f.get_string("v.string"), "héllo\nworld");
  EXPECT_EQ(f.get_uint("v.u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("v.i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_float("v.f64"), 3.141592653589793);
  EXPECT_EQ(f.get_string_array("v.strings"),
            (std::vector<std::string>{"a", "", "long string with spaces", std::string(300, 'z')}));
  EXPECT_EQ(f.get_float_array("v.floats"), (std::vector<float>{0.f, -1.25f, 1e30f}));
  EXPECT_EQ(f.get_int_array("v.ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.find("v.empty")->as_array().element_type(), ValueType::U64);
  EXPECT_TRUE(f.find("v.empty")->as_array().empty());
  // Exact type and structure of everything, nested arrays included.
  GgufWriter w = writer_with_all_types();
  ASSERT_GE(f.metadata().size(), w.metadata().size());
  for (size_t i = 0; i < w.metadata().size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, w.metadata()[i].key);
    EXPECT_EQ(f.metadata()[i].value.type(), w.metadata()[i].value.type()) << w.metadata()[i].key;
  }
  const Array& outer = f.find("v.nested")->as_array();
  ASSERT_EQ(outer.element_type(), ValueType::ARRAY);
  ASSERT_EQ(outer.size(), 1u);
  const Array& mid = outer.array_at(0);
  ASSERT_EQ(mid.size(), 3u);
  EXPECT_EQ(mid.array_at(0).element_type(), ValueType::I16);
  EXPECT_EQ(mid.array_at(0).at(0).as_int(), -3);
  EXPECT_EQ(mid.array_at(0).number_at<int16_t>(1), 4);
  EXPECT_TRUE(mid.array_at(1).empty());
  EXPECT_EQ(mid.array_at(2).at(0).as_string(), "x");
  EXPECT_EQ(mid.array_at(2).string_at(1), "");
  EXPECT_TRUE(identical(f.find("v.nested")->as_array(), nested_array().as_array()));
}

TEST(GgufRoundTrip, EveryValueTypeInMemory) {
  const std::vector<uint8_t> bytes = writer_with_all_types().write_buffer();
  const GgufFile f = GgufFile::from_buffer(bytes);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_TRUE(f.tensors().empty());
  expect_all_types(f);
}

struct TensorCase {
  std::string name;
  TensorType type;
  std::vector<int64_t> dims;
};

std::vector<TensorCase> tensor_cases() {
  return {
      {"f32.vec", TensorType::F32, {5}},
      {"f16.mat", TensorType::F16, {3, 7}},
      {"q8_0.mat", TensorType::Q8_0, {64, 3}},
      {"q4_K.3d", TensorType::Q4_K, {256, 2, 2}},
      {"bf16.4d", TensorType::BF16, {2, 3, 1, 2}},
      {"i32.vec", TensorType::I32, {1}},
  };
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("edgellm_gguf_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void expect_tensors(const GgufFile& f, uint64_t alignment) {
  const auto cases = tensor_cases();
  ASSERT_EQ(f.tensors().size(), cases.size());
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const TensorInfo& t = f.tensor(cases[i].name);
    EXPECT_EQ(&t, &f.tensors()[i]);
    EXPECT_EQ(t.type, cases[i].type);
    EXPECT_EQ(t.dims, cases[i].dims);
    EXPECT_EQ(t.offset, expected_offset) << t.name;
    EXPECT_EQ(t.offset % alignment, 0u);
    EXPECT_EQ((f.data_offset() + t.offset) % alignment, 0u);
    const auto expected = pattern_bytes(t.n_bytes, static_cast<uint8_t>(i));
    ASSERT_EQ(t.n_bytes, row_bytes(t.type, t.dims[0]) * static_cast<size_t>(t.n_rows()));
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), t.data)) << t.name;
    EXPECT_EQ(t.data, f.bytes().data() + f.data_offset() + t.offset);  // no copy
    expected_offset += (t.n_bytes + alignment - 1) / alignment * alignment;
  }
  EXPECT_EQ(f.bytes().size(), f.data_offset() + expected_offset);  // last tensor padded too
  EXPECT_EQ(f.find_tensor("absent"), nullptr);
  EXPECT_THROW(f.tensor("absent"), Error);
}

GgufWriter writer_with_tensors(uint32_t alignment) {
  GgufWriter w = writer_with_all_types();
  if (alignment != 32) w.set_u32("general.alignment", alignment);
  const auto cases = tensor_cases();
  for (size_t i = 0; i < cases.size(); ++i) {
    const size_t n = row_bytes(cases[i].type, cases[i].dims[0]) *
                     static_cast<size_t>(std::accumulate(cases[i].dims.begin() + 1, cases[i].dims.end(),
                                                         int64_t{1}, std::multiplies<>()));
    w.add_tensor(cases[i].name, cases[i].type, cases[i].dims, pattern_bytes(n, static_cast<uint8_t>(i)));
  }
  return w;
}

TEST(GgufRoundTrip, TensorsInMemory) {
  for (uint32_t alignment : {32u, 1u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    const auto bytes = writer_with_tensors(alignment).write_buffer();
    const GgufFile f = GgufFile::from_buffer(bytes);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    expect_tensors(f, alignment);
    expect_all_types(f);
  }
}

TEST(GgufRoundTrip, FileAndDescriptorAndMove) {
  TempDir dir;
  const std::string path = dir.file("t.gguf");
  const GgufWriter w = writer_with_tensors(32);
  w.write_file(path);
  GgufFile f = GgufFile::open(path);
  expect_tensors(f, 32);
  EXPECT_EQ(std::vector<uint8_t>(f.bytes().begin(), f.bytes().end()), w.write_buffer());

  GgufFile moved = std::move(f);  // data pointers stay valid: they point into the mapping
  expect_tensors(moved, 32);

  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  {
    const GgufFile g = GgufFile::from_fd(fd);
    expect_tensors(g, 32);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), 0) << "from_fd must not close the descriptor";
  ::close(fd);
}

TEST(GgufRoundTrip, DescriptorRangeInsideLargerFile) {
  TempDir dir;
  const std::string path = dir.file("packed.bin");
  const auto gguf = writer_with_tensors(32).write_buffer();
  const size_t prefix = 5000;  // not page aligned: exercises the mapping slack
  {
    std::FILE* out = std::fopen(path.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    const std::vector<uint8_t> junk(prefix, 0xAB);
    std::fwrite(junk.data(), 1, junk.size(), out);
    std::fwrite(gguf.data(), 1, gguf.size(), out);
    std::fwrite(junk.data(), 1, 100, out);
    std::fclose(out);
  }
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  const GgufFile f = GgufFile::from_fd(fd, prefix, gguf.size());
  ::close(fd);
  expect_tensors(f, 32);
}

TEST(GgufRoundTrip, StreamingMatchesInMemory) {
  TempDir dir;
  const std::string path = dir.file("s.gguf");
  GgufWriter w = writer_with_all_types();
  const auto cases = tensor_cases();
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < cases.size(); ++i) {
    const size_t n = row_bytes(cases[i].type, cases[i].dims[0]) *
                     static_cast<size_t>(std::accumulate(cases[i].dims.begin() + 1, cases[i].dims.end(),
                                                         int64_t{1}, std::multiplies<>()));
    payloads.push_back(pattern_bytes(n, static_cast<uint8_t>(i)));
    if (i == 2) w.add_tensor(cases[i].name, cases[i].type, cases[i].dims, payloads.back());  // mixed
    else w.declare_tensor(cases[i].name, cases[i].type, cases[i].dims);
  }
  EXPECT_THROW(w.write_buffer(), Error);  // declared-only tensors need the stream
  w.begin_stream(path);
  EXPECT_THROW(w.write_tensor_data(cases[1].name, payloads[1]), Error);  // out of order
  for (size_t i = 0; i < cases.size(); ++i)
    if (i != 2) w.write_tensor_data(cases[i].name, payloads[i]);
  w.finish_stream();
  const GgufFile f = GgufFile::open(path);
  expect_tensors(f, 32);
  const auto reference = writer_with_tensors(32).write_buffer();
  EXPECT_EQ(std::vector<uint8_t>(f.bytes().begin(), f.bytes().end()), reference);
}

TEST(GgufRoundTrip, UnfinishedStreamLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.file("partial.gguf");
  {
    GgufWriter w;
    w.declare_tensor("a", TensorType::F32, {4});
    w.begin_stream(path);
    EXPECT_FALSE(std::filesystem::exists(path)) << "visible before it is complete";
    EXPECT_THROW(w.finish_stream(), Error);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(std::filesystem::path(path).parent_path()));
  {
    GgufWriter w;  // destroyed mid-stream
    w.declare_tensor("a", TensorType::F32, {4});
    w.begin_stream(path);
  }
  EXPECT_TRUE(std::filesystem::is_empty(std::filesystem::path(path).parent_path()));
}

// The fuzzer's seeds (tests/fuzz/corpus/gguf, made by this writer) must stay valid files.
TEST(GgufRoundTrip, FuzzSeedsParse) {
  const std::filesystem::path dir = std::filesystem::path(EDGELLM_SOURCE_DIR) / "tests/fuzz/corpus/gguf";
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    const GgufFile f = GgufFile::open(entry.path().string());
    EXPECT_GE(f.version(), 2u);
    ++n;
  }
  EXPECT_GE(n, 4u);
}

TEST(GgufWriterChecks, RejectsBadInput) {
  GgufWriter w;
  EXPECT_THROW(w.set_u64("general.alignment", 32), Error);  // must be u32
  EXPECT_THROW(w.set_u32("general.alignment", 48), Error);  // not a power of two
  EXPECT_THROW(w.set_u32("general.alignment", 0), Error);
  EXPECT_THROW(w.set("", Value{uint8_t{1}}), Error);
  EXPECT_THROW(w.set("mixed", Value{Array{ValueType::U8, {Value{uint8_t{1}}, Value{int8_t{1}}}}}), Error);
  EXPECT_THROW(w.add_tensor("x", TensorType::F32, {4}, std::vector<uint8_t>(15)), Error);
  EXPECT_THROW(w.declare_tensor("x", TensorType::Q8_0, {33}), Error);
  EXPECT_THROW(w.declare_tensor("x", TensorType::F32, {0}), Error);
  EXPECT_THROW(w.declare_tensor("x", TensorType::F32, {}), Error);
  EXPECT_THROW(w.declare_tensor("x", TensorType::F32, {1, 1, 1, 1, 1}), Error);
  EXPECT_THROW(w.declare_tensor(std::string(64, 'n'), TensorType::F32, {1}), Error);
  EXPECT_THROW(w.declare_tensor("x", TensorType::F32, {int64_t{1} << 62, 1 << 8}), Error);
  w.declare_tensor("x", TensorType::F32, {1});
  EXPECT_THROW(w.declare_tensor("x", TensorType::F32, {1}), Error);
}

TEST(GgufWriterChecks, SetReplacesInPlaceAndRemove) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_u32("b", 2);
  w.set_string("a", "one");
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].key, "a");
  EXPECT_EQ(w.metadata()[0].value.as_string(), "one");
  w.remove("a");
  ASSERT_EQ(w.metadata().size(), 1u);
  EXPECT_EQ(w.metadata()[0].key, "b");
}

TEST(GgufValue, CheckedConversionsAndGetters) {
  GgufWriter w;
  w.set_u64("big", 18000000000000000000ull);
  w.set_i32("neg", -5);
  w.set_string("s", "text");
  w.set_f32_array("fa", {1.f});
  w.set_string_array("sa", {"q"});
  const auto bytes = w.write_buffer();
  const GgufFile f = GgufFile::from_buffer(bytes);
  EXPECT_THROW(f.get_int("big"), Error);   // does not fit int64
  EXPECT_THROW(f.get_uint("neg"), Error);  // negative
  EXPECT_EQ(f.get_float("neg"), -5.0);     // integers widen to double
  EXPECT_THROW(f.get_int("s"), Error);
  EXPECT_THROW(f.get_bool("s"), Error);
  EXPECT_THROW(f.get_string("neg"), Error);
  EXPECT_THROW(f.get_string("missing"), Error);
  EXPECT_THROW(f.get_string_array("fa"), Error);
  EXPECT_THROW(f.get_int_array("fa"), Error);
  EXPECT_THROW(f.get_float_array("sa"), Error);
  EXPECT_EQ(f.get_string_or("missing", "fb"), "fb");
  EXPECT_EQ(f.get_int_or("missing", 7), 7);
  EXPECT_EQ(f.get_float_or("missing", 0.5), 0.5);
  EXPECT_TRUE(f.get_bool_or("missing", true));
  EXPECT_THROW(f.get_int_or("s", 7), Error);  // present with the wrong type: not the fallback
  try {
    f.get_int("s");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'s'"), std::string::npos) << e.what();
  }
}

// A dropped range stays out of the resident set when its neighbours are read afterwards: for a
// file in the page cache the kernel maps the whole large folio (up to MiBs) around a faulting
// page, which brings a merely MADV_DONTNEED'ed range back (a 0.5B model's repacked weights
// came back by 75 MiB that way).
TEST(GgufFile, DroppedPagesStayOutWhenNeighboursAreRead) {
  TempDir dir;
  const std::string path = dir.file("drop.gguf");
  GgufWriter w;
  const std::vector<uint8_t> small(4096 * 3, 1), big(size_t{16} << 20, 2);
  w.add_tensor("before", TensorType::F32, {3072}, small);
  w.add_tensor("big", TensorType::F32, {static_cast<int64_t>(big.size() / 4)}, big);
  w.add_tensor("after", TensorType::F32, {3072}, small);
  w.write_file(path);  // the file stays in the page cache, in the folios the writes made

  const GgufFile f = GgufFile::open(path);
  const TensorInfo* t = f.find_tensor("big");
  ASSERT_NE(t, nullptr);
  unsigned sum = 0;
  for (size_t i = 0; i < t->n_bytes; i += 4096) sum += t->data[i];  // e.g. a repack reads it all
  EXPECT_EQ(sum, 2u * static_cast<unsigned>(t->n_bytes / 4096));
  f.drop_pages(t->data, t->n_bytes);
  for (const char* name : {"before", "after"}) {
    const TensorInfo* n = f.find_tensor(name);
    for (size_t i = 0; i < n->n_bytes; i += 64) sum += n->data[i];
  }
  // Whole pages inside the range; the partial pages at its ends may be mapped.
  EXPECT_LE(test::present_pages(t->data, t->data + t->n_bytes), 2u);
  // The range is no longer mapped from the file at all, so nothing can map it back.
  const uint8_t* inside = t->data + t->n_bytes / 2;
  EXPECT_DEATH({ sum += *static_cast<const volatile uint8_t*>(inside); }, "");
}

}  // namespace
}  // namespace edgellm::gguf
