// The reader must reject every malformed file with an edgellm::Error that names the byte offset
// (never crash, never allocate by an untrusted count). Files are assembled byte by byte here,
// independently of the writer, so a writer bug cannot hide a reader bug.
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace edgellm::gguf {
namespace {

constexpr uint64_t kHuge = uint64_t{1} << 62;

// Little-endian GGUF assembly.
struct Bytes {
  std::vector<uint8_t> v;
  template <typename T>
  Bytes& pod(T x) {
    const auto* p = reinterpret_cast<const uint8_t*>(&x);
    v.insert(v.end(), p, p + sizeof x);
    return *this;
  }
  Bytes& u8(uint8_t x) { return pod(x); }
  Bytes& u32(uint32_t x) { return pod(x); }
  Bytes& u64(uint64_t x) { return pod(x); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    v.insert(v.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  }
  Bytes& kv_u32(std::string_view key, uint32_t x) { return str(key).u32(4).u32(x); }
  Bytes& tensor(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
  }
  Bytes& pad_to(size_t alignment) {
    while (v.size() % alignment) v.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    v.insert(v.end(), n, 0);
    return *this;
  }
};

// Parses and expects an Error whose message names a byte offset and contains `what`.
void expect_rejected(const std::vector<uint8_t>& bytes, std::string_view what) {
  try {
    GgufFile::from_buffer(bytes);
    ADD_FAILURE() << "accepted a malformed file; expected an error about: " << what;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected: " << what;
  }
}

TEST(GgufMalformed, HeaderFields) {
  expect_rejected({}, "truncated magic");
  expect_rejected(Bytes{}.u32(0x46554746).u32(3).u64(0).u64(0).v, "bad magic");
  expect_rejected(Bytes{}.header(0, 0, 1).v, "unsupported GGUF version 1");
  expect_rejected(Bytes{}.header(0, 0, 4).v, "byte offset 4: unsupported GGUF version 4");
  expect_rejected(Bytes{}.header(0, 0, 0x03000000).v, "big-endian");
  expect_rejected(Bytes{}.u32(0x46554747).u32(3).u64(0).v, "truncated metadata key/value count");
}

TEST(GgufMalformed, HugeCounts) {
  expect_rejected(Bytes{}.header(kHuge, 0).v, "byte offset 8: tensor count");
  expect_rejected(Bytes{}.header(std::numeric_limits<uint64_t>::max(), 0).v, "tensor count");
  expect_rejected(Bytes{}.header(0, kHuge).v, "byte offset 16: metadata key/value count");
  expect_rejected(Bytes{}.header(0, 1).u64(kHuge).zeros(16).v, "byte offset 24: metadata key length");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(8).u64(std::numeric_limits<uint64_t>::max()).v,
                  "byte offset 37: string length");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(4).u64(kHuge).v,
                  "byte offset 41: array length");
  // 1000 u64 items claimed, 8 bytes present.
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(10).u64(1000).u64(1).v, "array length 1000");
  // Enough bytes for 2^24 + 1 u8 items, but more values than the reader keeps in memory.
  Bytes many;
  many.header(0, 1).str("k").u32(9).u32(0).u64((uint64_t{1} << 24) + 1).zeros((size_t{1} << 24) + 1);
  expect_rejected(many.v, "byte offset 41: metadata holds more than 16777216 values");
  expect_rejected(Bytes{}.header(1, 0).str("t").u32(0xFFFFFFFF).zeros(40).v, "dimensions");
  expect_rejected(Bytes{}.header(1, 0).str("t").u32(5).zeros(64).v, "tensor has 5 dimensions");
  expect_rejected(Bytes{}.header(1, 0).str("t").u32(0).zeros(64).v, "tensor has 0 dimensions");
  expect_rejected(Bytes{}.header(1, 0).u64(kHuge).zeros(64).v, "tensor name length");
}

TEST(GgufMalformed, MetadataValues) {
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(13).u32(0).v, "unknown value type 13");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(99).u64(0).v, "unknown array element type 99");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(7).u8(2).v, "bool value 2");
  expect_rejected(Bytes{}.header(0, 1).str("").u32(4).u32(0).v, "metadata key #0 is empty");
  expect_rejected(Bytes{}.header(0, 2).kv_u32("k", 1).kv_u32("k", 2).v, "duplicate metadata key 'k'");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(10).u32(7).v, "truncated u64 value");
  // Names from the file are escaped and cut in messages.
  std::string long_key(1002, 'b');
  long_key[0] = 'a';
  long_key[1] = '\x01';
  expect_rejected(Bytes{}.header(0, 2).kv_u32(long_key, 1).kv_u32(long_key, 2).v,
                  "duplicate metadata key 'a\\x01bbbb");
  expect_rejected(Bytes{}.header(0, 2).kv_u32(long_key, 1).kv_u32(long_key, 2).v, "...(1002 bytes)'");

  Bytes deep;
  deep.header(0, 1).str("k").u32(9);
  for (int i = 0; i < 8; ++i) deep.u32(9).u64(1);  // 9 arrays in all
  deep.u32(0).u64(0);
  expect_rejected(deep.v, "nested deeper than 8");
  Bytes ok_depth;  // 8 levels are fine
  ok_depth.header(0, 1).str("k").u32(9);
  for (int i = 0; i < 7; ++i) ok_depth.u32(9).u64(1);
  ok_depth.u32(0).u64(0);
  EXPECT_NO_THROW(GgufFile::from_buffer(ok_depth.v));
}

// Array items are read from the file before memory is set aside for them, and a bad item names
// its offset (and, in a string array, its index).
TEST(GgufMalformed, ArrayItems) {
  // Header 24 bytes, key "k" 9, value type 4, element type 4: the count is at 41, items at 49.
  // 3 strings claimed (each needs >= 8 bytes; 29 remain), the third cut short.
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(8).u64(3).str("ab").str("").u64(100).zeros(3).v,
                  "byte offset 67: string length 100 exceeds the 3 bytes left in the 78-byte file "
                  "(array item 2 of 3)");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(8).u64(2).str("ab").u32(1).zeros(3).v,
                  "byte offset 59: truncated string: needs 8 bytes, only 7 left");
  // More strings claimed than 8-byte lengths fit in the rest of the file.
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(8).u64(4).str("ab").str("").u64(0).v,
                  "byte offset 41: array length 4 is impossible");
  // A count of i32 items larger than the bytes that remain, by one item.
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(5).u64(3).u32(1).u32(2).v,
                  "byte offset 41: array length 3 is impossible: only 8 bytes remain");
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(7).u64(3).u8(1).u8(0).u8(2).v,
                  "byte offset 51: bool value 2 is neither 0 nor 1");
  // Nested: the inner array's count is checked against the bytes left, not the outer's.
  expect_rejected(Bytes{}.header(0, 1).str("k").u32(9).u32(9).u64(1).u32(0).u64(kHuge).v,
                  "byte offset 53: array length");
}

TEST(GgufMalformed, Alignment) {
  const auto with_alignment = [](auto add_value) {
    Bytes b;
    b.header(0, 1).str("general.alignment");
    add_value(b);
    return b.v;
  };
  expect_rejected(with_alignment([](Bytes& b) { b.u32(10).u64(32); }), "general.alignment must be a u32");
  expect_rejected(with_alignment([](Bytes& b) { b.u32(4).u32(0); }), "general.alignment = 0 is not a power of two");
  expect_rejected(with_alignment([](Bytes& b) { b.u32(4).u32(48); }), "general.alignment = 48");
  EXPECT_EQ(GgufFile::from_buffer(with_alignment([](Bytes& b) { b.u32(4).u32(64); })).alignment(), 64u);
}

TEST(GgufMalformed, TensorInfos) {
  const auto one_tensor = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    Bytes b;
    b.header(1, 0).tensor("t", dims, type, offset).pad_to(32).zeros(4096);
    return b.v;
  };
  EXPECT_NO_THROW(GgufFile::from_buffer(one_tensor({4, 2}, 0, 0)));
  expect_rejected(one_tensor({4, 0}, 0, 0), "dimension 1 is zero");
  expect_rejected(one_tensor({uint64_t{1} << 63}, 0, 0), "dimension 0 = 9223372036854775808 is too large");
  expect_rejected(one_tensor({kHuge, kHuge}, 0, 0), "element count overflows");
  expect_rejected(one_tensor({uint64_t{1} << 61}, 0, 0), "runs past the end");  // 2^63 bytes
  expect_rejected(one_tensor({kHuge * 2 - 1}, 0, 0), "byte size overflows");    // f32: x4 > 2^64
  expect_rejected(one_tensor({4}, 4, 0), "unknown tensor type id 4");
  expect_rejected(one_tensor({4}, 31, 0), "unknown tensor type id 31");
  expect_rejected(one_tensor({4}, 0xFFFFFFFF, 0), "unknown tensor type id 4294967295");
  expect_rejected(one_tensor({33, 2}, 8, 0), "row length 33 is not a multiple of the q8_0 block size 32");
  expect_rejected(one_tensor({4}, 0, 4), "data offset 4 is not a multiple of the alignment 32");
  expect_rejected(one_tensor({4}, 0, 4096), "runs past the end");
  expect_rejected(one_tensor({4}, 0, std::numeric_limits<uint64_t>::max() - 31), "runs past the end");
  expect_rejected(one_tensor({1025}, 0, 0), "runs past the end");  // 4100 bytes, 4096 present

  Bytes empty_name;
  empty_name.header(1, 0).tensor("", {4}, 0, 0).pad_to(32).zeros(32);
  expect_rejected(empty_name.v, "empty tensor name");
}

TEST(GgufMalformed, TensorLayout) {
  Bytes dup;
  dup.header(2, 0).tensor("a", {4}, 0, 0).tensor("a", {4}, 0, 32).pad_to(32).zeros(64);
  expect_rejected(dup.v, "duplicate tensor name 'a'");

  Bytes overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 32).tensor("b", {4}, 0, 64).pad_to(32).zeros(128);
  expect_rejected(overlap.v, "tensors 'a' and 'b' overlap");
  Bytes same;
  same.header(2, 0).tensor("a", {4}, 0, 0).tensor("b", {4}, 0, 0).pad_to(32).zeros(64);
  expect_rejected(same.v, "overlap");
  Bytes adjacent;  // out of order but disjoint: fine
  adjacent.header(2, 0).tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 0).pad_to(32).zeros(64);
  EXPECT_NO_THROW(GgufFile::from_buffer(adjacent.v));

  Bytes no_data;  // tensor infos but the file ends before the aligned data section
  no_data.header(1, 0).tensor("a", {4}, 0, 0);
  expect_rejected(no_data.v, "starts past the end");
}

// A small valid file cut at every length: each prefix that lacks part of a tensor's data or
// any header byte must be rejected; prefixes that only lack the final padding are valid.
TEST(GgufMalformed, TruncatedAtEveryOffset) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"a", "bc", ""});
  w.set("nested", Value{Array{ValueType::ARRAY, {Value{Array{ValueType::I8, {Value{int8_t{1}}}}}}}});
  w.set_bool("flag", false);
  w.add_tensor("w", TensorType::F32, {3, 2}, std::vector<uint8_t>(24, 1));
  w.add_tensor("q", TensorType::Q8_0, {32}, std::vector<uint8_t>(34, 2));
  const std::vector<uint8_t> full = w.write_buffer();
  const GgufFile f = GgufFile::from_buffer(full);
  size_t data_end = 0;
  for (const TensorInfo& t : f.tensors())
    data_end = std::max<size_t>(data_end, f.data_offset() + t.offset + t.n_bytes);
  ASSERT_LT(data_end, full.size());  // the last tensor is padded

  for (size_t n = 0; n < full.size(); ++n) {
    const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    if (n >= data_end) {
      EXPECT_NO_THROW(GgufFile::from_buffer(prefix)) << n;
      continue;
    }
    try {
      GgufFile::from_buffer(prefix);
      ADD_FAILURE() << "accepted a file truncated to " << n << " bytes";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("offset"), std::string::npos) << e.what();
    }
  }
}

// Every single-byte corruption of the header region either parses or throws Error (run under
// ASan in the sanitizer build, so an out-of-bounds read would fail here too).
TEST(GgufMalformed, EveryByteFlipThrowsOrParses) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_i32_array("ids", {1, 2, 3});
  w.add_tensor("w", TensorType::F16, {4, 2}, std::vector<uint8_t>(16, 1));
  const std::vector<uint8_t> full = w.write_buffer();
  const GgufFile f = GgufFile::from_buffer(full);
  for (size_t i = 0; i < f.data_offset(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      std::vector<uint8_t> bad = full;
      bad[i] ^= flip;
      try {
        const GgufFile g = GgufFile::from_buffer(bad);
        for (const TensorInfo& t : g.tensors()) {
          ASSERT_GE(t.data, bad.data());
          ASSERT_LE(t.data + t.n_bytes, bad.data() + bad.size());
        }
      } catch (const Error&) {
      }
    }
  }
}

}  // namespace
}  // namespace edgellm::gguf
