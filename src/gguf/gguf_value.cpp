// Metadata values: type names, checked conversions, and GgufFile's typed getters.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace edgellm::gguf {
namespace {

bool is_integer(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
    case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64:
      return true;
    default:
      return false;
  }
}

bool is_signed_integer(ValueType t) {
  return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

// Integer payload widened without loss: signed kinds to int64, unsigned kinds to uint64.
int64_t signed_payload(const Value::Storage& s) {
  return std::visit(
      [](const auto& v) -> int64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) return v;
        else return 0;
      },
      s);
}

uint64_t unsigned_payload(const Value::Storage& s) {
  return std::visit(
      [](const auto& v) -> uint64_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool>)
          return v;
        else return 0;
      },
      s);
}

// Runs a Value conversion and names the key when it fails.
template <typename F>
auto with_key(std::string_view key, F&& convert) -> decltype(convert()) {
  try {
    return convert();
  } catch (const Error& e) {
    fail("metadata key '{}': {}", key, e.what());
  }
}

}  // namespace

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "unknown";
}

int64_t Value::as_int() const {
  const ValueType t = type();
  if (!is_integer(t)) fail("expected an integer, found a {}", value_type_name(t));
  if (is_signed_integer(t)) return signed_payload(data);
  const uint64_t u = unsigned_payload(data);
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail("integer {} does not fit in int64", u);
  return static_cast<int64_t>(u);
}

uint64_t Value::as_uint() const {
  const ValueType t = type();
  if (!is_integer(t)) fail("expected an unsigned integer, found a {}", value_type_name(t));
  if (!is_signed_integer(t)) return unsigned_payload(data);
  const int64_t s = signed_payload(data);
  if (s < 0) fail("expected an unsigned integer, found {}", s);
  return static_cast<uint64_t>(s);
}

double Value::as_double() const {
  switch (type()) {
    case ValueType::F32: return std::get<float>(data);
    case ValueType::F64: return std::get<double>(data);
    default: break;
  }
  if (is_signed_integer(type())) return static_cast<double>(signed_payload(data));
  if (is_integer(type())) return static_cast<double>(unsigned_payload(data));
  fail("expected a number, found a {}", value_type_name(type()));
}

bool Value::as_bool() const {
  if (const bool* b = std::get_if<bool>(&data)) return *b;
  fail("expected a bool, found a {}", value_type_name(type()));
}

const std::string& Value::as_string() const {
  if (const std::string* s = std::get_if<std::string>(&data)) return *s;
  fail("expected a string, found a {}", value_type_name(type()));
}

const Array& Value::as_array() const {
  if (const Array* a = std::get_if<Array>(&data)) return *a;
  fail("expected an array, found a {}", value_type_name(type()));
}

bool identical(const Value& a, const Value& b) {
  if (a.type() != b.type()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b.data);
        if constexpr (std::is_same_v<T, Array>) {
          return identical(x, y);
        } else if constexpr (std::is_floating_point_v<T>) {
          return std::memcmp(&x, &y, sizeof(T)) == 0;
        } else {
          return x == y;
        }
      },
      a.data);
}

// ---- GgufFile getters ----

const Value* GgufFile::find(std::string_view key) const {
  for (const KeyValue& kv : metadata_)
    if (kv.key == key) return &kv.value;
  return nullptr;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const TensorInfo& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

const TensorInfo& GgufFile::tensor(std::string_view name) const {
  if (const TensorInfo* t = find_tensor(name)) return *t;
  fail("missing tensor {}", name);
}

namespace {
const Value& require(const GgufFile& f, std::string_view key) {
  if (const Value* v = f.find(key)) return *v;
  fail("missing metadata key '{}'", key);
}
}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] { return v.as_string(); });
}

int64_t GgufFile::get_int(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] { return v.as_int(); });
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] { return v.as_uint(); });
}

double GgufFile::get_float(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] { return v.as_double(); });
}

bool GgufFile::get_bool(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] { return v.as_bool(); });
}

std::string GgufFile::get_string_or(std::string_view key, std::string fallback) const {
  return find(key) ? get_string(key) : std::move(fallback);
}

int64_t GgufFile::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) ? get_int(key) : fallback;
}

double GgufFile::get_float_or(std::string_view key, double fallback) const {
  return find(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  return find(key) ? get_bool(key) : fallback;
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] {
    const Array& a = v.as_array();
    if (a.element_type() != ValueType::STRING)
      fail("expected an array of strings, found an array of {}", value_type_name(a.element_type()));
    std::vector<std::string> out;
    out.reserve(a.size());
    for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a.string_at(i));
    return out;
  });
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] {
    const Array& a = v.as_array();
    std::vector<float> out;
    out.reserve(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      try {
        out.push_back(static_cast<float>(a.at(i).as_double()));
      } catch (const Error& e) {
        fail("item {}: {}", i, e.what());
      }
    }
    return out;
  });
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const Value& v = require(*this, key);
  return with_key(key, [&] {
    const Array& a = v.as_array();
    std::vector<int64_t> out;
    out.reserve(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      try {
        out.push_back(a.at(i).as_int());
      } catch (const Error& e) {
        fail("item {}: {}", i, e.what());
      }
    }
    return out;
  });
}

}  // namespace edgellm::gguf
