// Metadata arrays in compact form: builders that keep every item of the element type, and
// accessors that materialize one item at a time.
#include <algorithm>
#include <limits>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace edgellm::gguf {

size_t packed_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::STRING: case ValueType::ARRAY: return 0;
  }
  return 0;
}

Array::Array(ValueType element_type) : element_type_(element_type) {
  if (static_cast<uint32_t>(element_type) > static_cast<uint32_t>(ValueType::F64))
    fail("invalid array element type {}", static_cast<uint32_t>(element_type));
}

Array::Array(ValueType element_type, std::initializer_list<Value> items) : Array(element_type) {
  for (const Value& item : items) append(item);
}

Array Array::from_packed(ValueType element_type, std::span<const uint8_t> bytes) {
  Array a(element_type);
  const size_t item_bytes = packed_size(element_type);
  if (item_bytes == 0)
    fail("an array of {} is not a packed array", value_type_name(element_type));
  if (bytes.size() % item_bytes != 0)
    fail("{} bytes are not a whole number of {} items", bytes.size(), value_type_name(element_type));
  if (element_type == ValueType::BOOL)
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] > 1) fail("bool item {} is {}, neither 0 nor 1", i, bytes[i]);
  a.bytes_.assign(bytes.begin(), bytes.end());
  return a;
}

Array Array::from_strings(std::span<const std::string> values) {
  Array a(ValueType::STRING);
  size_t total = 0;
  for (const std::string& s : values) total += s.size();
  a.reserve_strings(values.size(), total);
  for (const std::string& s : values) a.append_string(s);
  return a;
}

void Array::append(const Value& item) {
  if (item.type() != element_type_)
    fail("array of {} cannot hold a {} (item {})", value_type_name(element_type_),
         value_type_name(item.type()), size());
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          append_string(x);
        } else if constexpr (std::is_same_v<T, Array>) {
          append_array(x);
        } else {
          const uint8_t* p = reinterpret_cast<const uint8_t*>(&x);
          bytes_.insert(bytes_.end(), p, p + sizeof x);  // bool is one byte, 0 or 1
        }
      },
      item.data);
}

void Array::append_string(std::string_view s) {
  if (element_type_ != ValueType::STRING)
    fail("array of {} cannot hold a string", value_type_name(element_type_));
  if (s.size() > std::numeric_limits<uint32_t>::max() - bytes_.size())
    fail("a string array holds at most 4 GiB of text");
  bytes_.insert(bytes_.end(), s.begin(), s.end());
  string_ends_.push_back(static_cast<uint32_t>(bytes_.size()));
}

void Array::append_array(Array a) {
  if (element_type_ != ValueType::ARRAY)
    fail("array of {} cannot hold an array", value_type_name(element_type_));
  arrays_.push_back(std::move(a));
}

void Array::reserve_strings(size_t count, size_t total_bytes) {
  string_ends_.reserve(string_ends_.size() + count);
  bytes_.reserve(bytes_.size() + total_bytes);
}

size_t Array::size() const {
  switch (element_type_) {
    case ValueType::STRING: return string_ends_.size();
    case ValueType::ARRAY: return arrays_.size();
    default: return bytes_.size() / packed_size(element_type_);
  }
}

const uint8_t* Array::packed_item(size_t i, ValueType type) const {
  if (type != element_type_)
    fail("array of {} read as {}", value_type_name(element_type_), value_type_name(type));
  if (i >= size()) fail("array index {} out of range (size {})", i, size());
  return bytes_.data() + i * packed_size(type);
}

std::span<const uint8_t> Array::packed_bytes() const {
  if (packed_size(element_type_) == 0) return {};
  return bytes_;
}

std::string_view Array::string_at(size_t i) const {
  if (element_type_ != ValueType::STRING)
    fail("array of {} read as string", value_type_name(element_type_));
  if (i >= size()) fail("array index {} out of range (size {})", i, size());
  const uint32_t begin = i == 0 ? 0 : string_ends_[i - 1];
  return {reinterpret_cast<const char*>(bytes_.data()) + begin, string_ends_[i] - begin};
}

const Array& Array::array_at(size_t i) const {
  if (element_type_ != ValueType::ARRAY)
    fail("array of {} read as array", value_type_name(element_type_));
  if (i >= size()) fail("array index {} out of range (size {})", i, size());
  return arrays_[i];
}

Value Array::at(size_t i) const {
  switch (element_type_) {
    case ValueType::U8: return Value{number_at<uint8_t>(i)};
    case ValueType::I8: return Value{number_at<int8_t>(i)};
    case ValueType::U16: return Value{number_at<uint16_t>(i)};
    case ValueType::I16: return Value{number_at<int16_t>(i)};
    case ValueType::U32: return Value{number_at<uint32_t>(i)};
    case ValueType::I32: return Value{number_at<int32_t>(i)};
    case ValueType::F32: return Value{number_at<float>(i)};
    case ValueType::BOOL: return Value{number_at<bool>(i)};
    case ValueType::STRING: return Value{std::string(string_at(i))};
    case ValueType::ARRAY: return Value{array_at(i)};
    case ValueType::U64: return Value{number_at<uint64_t>(i)};
    case ValueType::I64: return Value{number_at<int64_t>(i)};
    case ValueType::F64: return Value{number_at<double>(i)};
  }
  fail("invalid array element type {}", static_cast<uint32_t>(element_type_));
}

size_t Array::heap_bytes() const {
  size_t n = bytes_.capacity() + string_ends_.capacity() * sizeof(uint32_t) +
             arrays_.capacity() * sizeof(Array);
  for (const Array& a : arrays_) n += a.heap_bytes();
  return n;
}

// Packed items compare byte for byte, so floats compare bit for bit as identical() promises.
bool identical(const Array& a, const Array& b) {
  if (a.element_type() != b.element_type() || a.size() != b.size()) return false;
  switch (a.element_type()) {
    case ValueType::STRING:
      for (size_t i = 0; i < a.size(); ++i)
        if (a.string_at(i) != b.string_at(i)) return false;
      return true;
    case ValueType::ARRAY:
      for (size_t i = 0; i < a.size(); ++i)
        if (!identical(a.array_at(i), b.array_at(i))) return false;
      return true;
    default: {
      const std::span<const uint8_t> x = a.packed_bytes(), y = b.packed_bytes();
      return std::equal(x.begin(), x.end(), y.begin(), y.end());
    }
  }
}

}  // namespace edgellm::gguf
