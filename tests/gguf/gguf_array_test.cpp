// Compact metadata arrays: vocabulary-sized arrays survive writer -> reader exactly, cost about
// their size in the file, and the Array builders keep every item of the element type.
#include <cmath>
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

constexpr size_t kVocab = 150000;

// Short token-like strings: empty ones, NUL and bytes >= 0x80 (not valid UTF-8 on their own).
std::vector<std::string> token_strings(size_t n) {
  std::vector<std::string> out(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t length = i % 11;  // 0..10 bytes, ~5 on average
    for (size_t j = 0; j < length; ++j) out[i].push_back(static_cast<char>((i * 31 + j * 97) & 0xff));
  }
  out[1] = "\xc3\xa9\xe2\x80\x8b";  // "é" and a zero-width space
  out[2] = std::string("a\0b", 3);
  return out;
}

std::vector<int32_t> int32_values(size_t n) {
  std::vector<int32_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(i * 2654435761u);
  out[0] = std::numeric_limits<int32_t>::min();
  out[1] = std::numeric_limits<int32_t>::max();
  return out;
}

std::vector<float> float_values(size_t n) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(i) * -0.37f;
  out[0] = -0.0f;
  out[1] = std::numeric_limits<float>::infinity();
  uint32_t nan_bits = 0x7fc01234;  // a NaN with a payload, kept bit for bit
  std::memcpy(&out[2], &nan_bits, sizeof nan_bits);
  out[3] = std::numeric_limits<float>::denorm_min();
  return out;
}

uint32_t bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// [[i16...], [], ["x", "", "\xff"]] inside one more array, as a 3-level nesting.
Array nested() {
  Array inner(ValueType::ARRAY);
  inner.append_array(Array{ValueType::I16, {Value{int16_t{-3}}, Value{int16_t{32767}}}});
  inner.append_array(Array(ValueType::U64));
  inner.append_array(Array::from_strings(std::vector<std::string>{"x", "", "\xff"}));
  Array outer(ValueType::ARRAY);
  outer.append_array(std::move(inner));
  return outer;
}

struct VocabFile {
  std::vector<std::string> tokens = token_strings(kVocab);
  std::vector<int32_t> types = int32_values(kVocab);
  std::vector<float> scores = float_values(kVocab);
  std::vector<uint8_t> bytes;
  VocabFile() {
    GgufWriter w;
    w.set_string_array("tokens", tokens);
    w.set_i32_array("types", types);
    w.set_f32_array("scores", scores);
    w.set("flags", Value{Array{ValueType::BOOL, {Value{true}, Value{false}, Value{true}}}});
    w.set("u64s", Value{Array::from_numbers<uint64_t>(std::vector<uint64_t>{0, ~uint64_t{0}})});
    w.set("i8s", Value{Array::from_numbers<int8_t>(std::vector<int8_t>{-128, 127})});
    w.set("f64s", Value{Array::from_numbers<double>(std::vector<double>{-1e300, 0.1})});
    w.set("nested", Value{nested()});
    bytes = w.write_buffer();
  }
};

TEST(GgufArray, LargeArraysRoundTripExactly) {
  const VocabFile v;
  const GgufFile f = GgufFile::from_buffer(v.bytes);

  const Array& tokens = f.find("tokens")->as_array();
  ASSERT_EQ(tokens.element_type(), ValueType::STRING);
  ASSERT_EQ(tokens.size(), kVocab);
  for (size_t i = 0; i < kVocab; ++i) ASSERT_EQ(tokens.string_at(i), v.tokens[i]) << i;
  EXPECT_EQ(tokens.string_at(0), "");
  EXPECT_EQ(tokens.at(2).as_string(), std::string("a\0b", 3));
  EXPECT_EQ(f.get_string_array("tokens"), v.tokens);

  const Array& types = f.find("types")->as_array();
  ASSERT_EQ(types.size(), kVocab);
  for (size_t i = 0; i < kVocab; ++i) ASSERT_EQ(types.number_at<int32_t>(i), v.types[i]) << i;
  const std::vector<int64_t> widened = f.get_int_array("types");
  ASSERT_EQ(widened.size(), kVocab);
  EXPECT_EQ(widened[0], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(widened[1], std::numeric_limits<int32_t>::max());

  const Array& scores = f.find("scores")->as_array();
  ASSERT_EQ(scores.size(), kVocab);
  for (size_t i = 0; i < kVocab; ++i) ASSERT_EQ(bits(scores.number_at<float>(i)), bits(v.scores[i])) << i;
  const std::vector<float> as_floats = f.get_float_array("scores");
  EXPECT_EQ(bits(as_floats[2]), 0x7fc01234u);
  EXPECT_TRUE(std::signbit(as_floats[0]));

  const Array& flags = f.find("flags")->as_array();
  ASSERT_EQ(flags.size(), 3u);
  EXPECT_TRUE(flags.at(0).as_bool());
  EXPECT_FALSE(flags.number_at<bool>(1));
  EXPECT_EQ(f.find("u64s")->as_array().at(1).as_uint(), ~uint64_t{0});
  EXPECT_EQ(f.find("i8s")->as_array().at(0).as_int(), -128);
  EXPECT_EQ(f.find("f64s")->as_array().number_at<double>(0), -1e300);

  const Array& outer = f.find("nested")->as_array();
  ASSERT_EQ(outer.size(), 1u);
  const Array& inner = outer.array_at(0);
  ASSERT_EQ(inner.size(), 3u);
  EXPECT_EQ(inner.array_at(0).number_at<int16_t>(1), 32767);
  EXPECT_EQ(inner.array_at(1).element_type(), ValueType::U64);
  EXPECT_TRUE(inner.array_at(1).empty());
  EXPECT_EQ(inner.array_at(2).string_at(1), "");
  EXPECT_EQ(inner.array_at(2).string_at(2), "\xff");

  // Everything read equals what was written, and writing it again gives the same bytes.
  GgufWriter again;
  for (const KeyValue& kv : f.metadata()) again.set(kv.key, kv.value);
  EXPECT_EQ(again.write_buffer(), v.bytes);
  EXPECT_TRUE(identical(outer, nested()));
  EXPECT_TRUE(identical(tokens, Array::from_strings(v.tokens)));
  Array changed = Array::from_strings(v.tokens);
  changed.append_string("");
  EXPECT_FALSE(identical(tokens, changed));
  std::vector<float> other_nan = v.scores;
  const uint32_t quiet_nan = 0x7fc00000;
  std::memcpy(&other_nan[2], &quiet_nan, sizeof quiet_nan);
  EXPECT_FALSE(identical(scores, Array::from_numbers<float>(other_nan)));  // bit for bit
}

// A 150k-token vocabulary must cost about its bytes in the file, not an object per token.
TEST(GgufArray, MemoryCloseToTheEncodedSize) {
  const VocabFile v;
  const GgufFile f = GgufFile::from_buffer(v.bytes);
  size_t string_encoded = 0;
  for (const std::string& s : v.tokens) string_encoded += 8 + s.size();  // length + bytes
  const size_t int_encoded = 4 * kVocab;
  const auto within_bound = [](size_t heap, size_t encoded) { return heap <= encoded * 5 / 4 + 256; };

  const size_t token_heap = f.find("tokens")->as_array().heap_bytes();
  EXPECT_TRUE(within_bound(token_heap, string_encoded)) << token_heap << " vs " << string_encoded;
  const size_t type_heap = f.find("types")->as_array().heap_bytes();
  EXPECT_TRUE(within_bound(type_heap, int_encoded)) << type_heap << " vs " << int_encoded;
  // The writer's arrays are as compact as the reader's.
  EXPECT_TRUE(within_bound(Array::from_strings(v.tokens).heap_bytes(), string_encoded));
  EXPECT_TRUE(within_bound(Array::from_numbers<int32_t>(v.types).heap_bytes(), int_encoded));
  // Nested arrays count what they hold: 4 Arrays below the outer one, 2 i16 and 2 bytes of text.
  EXPECT_GE(f.find("nested")->as_array().heap_bytes(), 4 * sizeof(Array) + 2 * sizeof(int16_t) + 2);
}

TEST(GgufArray, BuildersKeepTheElementType) {
  EXPECT_THROW((Array{ValueType::U8, {Value{uint8_t{1}}, Value{int8_t{1}}}}), Error);
  EXPECT_THROW(Array(static_cast<ValueType>(13)), Error);
  Array ints(ValueType::I32);
  EXPECT_THROW(ints.append_string("x"), Error);
  EXPECT_THROW(ints.append_array(Array(ValueType::U8)), Error);
  ints.append(Value{int32_t{7}});
  EXPECT_THROW(ints.append(Value{uint32_t{7}}), Error);
  ASSERT_EQ(ints.size(), 1u);
  EXPECT_EQ(ints.number_at<int32_t>(0), 7);
  EXPECT_THROW(ints.number_at<uint32_t>(0), Error);  // typed access is exact
  EXPECT_THROW(ints.number_at<int32_t>(1), Error);
  EXPECT_THROW(ints.at(1), Error);
  EXPECT_THROW(ints.string_at(0), Error);
  EXPECT_THROW(ints.array_at(0), Error);

  const std::vector<uint8_t> two = {1, 2};
  EXPECT_THROW(Array::from_packed(ValueType::BOOL, two), Error);  // bools are 0 or 1
  EXPECT_THROW(Array::from_packed(ValueType::U32, two), Error);   // not a whole item
  EXPECT_THROW(Array::from_packed(ValueType::STRING, two), Error);
  EXPECT_EQ(Array::from_packed(ValueType::U16, two).number_at<uint16_t>(0), 0x0201);

  Array strings(ValueType::STRING);
  strings.append(Value{std::string("ab")});
  strings.append_string("");
  strings.append_string("c");
  ASSERT_EQ(strings.size(), 3u);
  EXPECT_EQ(strings.string_at(0), "ab");
  EXPECT_EQ(strings.string_at(1), "");
  EXPECT_EQ(strings.string_at(2), "c");
  EXPECT_THROW(strings.string_at(3), Error);
  EXPECT_THROW(strings.number_at<uint8_t>(0), Error);
}

}  // namespace
}  // namespace edgellm::gguf
