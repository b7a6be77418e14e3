// GGUF v2/v3 reader. A GgufFile is validated completely when it is opened (header, metadata,
// tensor table, data ranges), so later code can trust every field. Tensor data is never copied:
// it points into the mmapped file or into the caller's buffer.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "gguf/tensor_type.h"

namespace edgellm::gguf {

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8,
  ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
std::string_view value_type_name(ValueType t);

struct Value;

// A metadata array, stored compactly: a vocabulary holds arrays of 150k+ items, and one
// variant per item would take ~10x their size in the file.
//   numbers and bools: one packed buffer in the GGUF encoding (little-endian, fixed size each);
//   strings: one character buffer plus the end offset of each string;
//   arrays: the nested Arrays.
// Every item has the element type; the builders throw edgellm::Error otherwise.
class Array {
 public:
  explicit Array(ValueType element_type = ValueType::U8);
  Array(ValueType element_type, std::initializer_list<Value> items);
  // Numbers or bools from their GGUF encoding (size a multiple of the element size, bools 0/1).
  static Array from_packed(ValueType element_type, std::span<const uint8_t> bytes);
  template <typename T>
  static Array from_numbers(std::span<const T> values) {
    return from_packed(value_type_of<T>(), {reinterpret_cast<const uint8_t*>(values.data()),
                                            values.size_bytes()});
  }
  static Array from_strings(std::span<const std::string> values);

  void append(const Value& item);
  void append_string(std::string_view s);
  void append_array(Array a);
  // Sizes the string buffers exactly, for a reader that has measured what it will append.
  void reserve_strings(size_t count, size_t total_bytes);

  ValueType element_type() const { return element_type_; }
  size_t size() const;
  bool empty() const { return size() == 0; }

  // Item i as a Value (a copy); all accessors throw edgellm::Error on a bad index or type.
  Value at(size_t i) const;
  std::string_view string_at(size_t i) const;  // string arrays
  const Array& array_at(size_t i) const;       // arrays of arrays
  template <typename T>
  T number_at(size_t i) const {  // T must be the element type exactly (bool for BOOL)
    T x;
    std::memcpy(&x, packed_item(i, value_type_of<T>()), sizeof x);
    return x;
  }
  // Numeric and bool arrays: the items in their GGUF encoding; empty for other arrays.
  std::span<const uint8_t> packed_bytes() const;
  // Heap memory held, nested arrays included (what the metadata of a model costs).
  size_t heap_bytes() const;

  // The ValueType of a C++ scalar type (uint8_t -> U8, float -> F32, bool -> BOOL, ...).
  template <typename T>
  static constexpr ValueType value_type_of() {
    if constexpr (std::is_same_v<T, uint8_t>) return ValueType::U8;
    else if constexpr (std::is_same_v<T, int8_t>) return ValueType::I8;
    else if constexpr (std::is_same_v<T, uint16_t>) return ValueType::U16;
    else if constexpr (std::is_same_v<T, int16_t>) return ValueType::I16;
    else if constexpr (std::is_same_v<T, uint32_t>) return ValueType::U32;
    else if constexpr (std::is_same_v<T, int32_t>) return ValueType::I32;
    else if constexpr (std::is_same_v<T, float>) return ValueType::F32;
    else if constexpr (std::is_same_v<T, bool>) return ValueType::BOOL;
    else if constexpr (std::is_same_v<T, uint64_t>) return ValueType::U64;
    else if constexpr (std::is_same_v<T, int64_t>) return ValueType::I64;
    else if constexpr (std::is_same_v<T, double>) return ValueType::F64;
    else static_assert(sizeof(T) == 0, "not a GGUF scalar type");
  }

 private:
  ValueType element_type_;
  std::vector<uint8_t> bytes_;         // numbers and bools packed, or the strings back to back
  std::vector<uint32_t> string_ends_;  // string i is bytes_[end of string i-1, string_ends_[i])
  std::vector<Array> arrays_;          // arrays of arrays
  const uint8_t* packed_item(size_t i, ValueType type) const;
};

// Bytes of one item of a numeric or bool array in GGUF; 0 for strings and arrays.
size_t packed_size(ValueType t);

struct Value {
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, Array, uint64_t, int64_t, double>;
  Storage data;

  ValueType type() const { return static_cast<ValueType>(data.index()); }
  // Numeric access with range checks (an integer key may be stored as any integer type);
  // these throw edgellm::Error naming the problem when the value does not fit.
  int64_t as_int() const;
  uint64_t as_uint() const;
  double as_double() const;
  bool as_bool() const;
  const std::string& as_string() const;
  const Array& as_array() const;
};

// Deep equality of type and payload; floats compare bit for bit (a NaN equals the same NaN).
bool identical(const Value& a, const Value& b);
bool identical(const Array& a, const Array& b);

struct KeyValue {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> dims;  // ne[0] first: dims[0] is the fastest-varying (row length)
  uint64_t offset = 0;        // relative to the start of the data section
  size_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping / buffer

  int64_t n_elements() const;
  int64_t n_rows() const;  // product of dims[1..]
};

class GgufFile {
 public:
  // Maps the file read-only. Throws edgellm::Error naming the offset and problem on bad input.
  static GgufFile open(const std::string& path);
  // Parses a GGUF held in memory; the buffer must outlive the GgufFile (no copy is made).
  static GgufFile from_buffer(std::span<const uint8_t> buffer);
  // Maps an already-open file descriptor (Android hands apps a descriptor); does not close it.
  static GgufFile from_fd(int fd);
  // Maps the GGUF stored in bytes [offset, offset + length) of fd (length 0: to the end of the
  // file), e.g. an uncompressed asset inside an APK.
  static GgufFile from_fd(int fd, uint64_t offset, uint64_t length);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the data section
  std::span<const uint8_t> bytes() const { return bytes_; }

  const std::vector<KeyValue>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Bytes [data, data + n) of a mapped file will never be read again (a copy replaced them):
  // the whole pages inside the range are unmapped from the file (replaced by an inaccessible,
  // never-populated anonymous mapping), so they leave the process's resident set for good. A
  // plain MADV_DONTNEED is not enough: a later fault on a neighbouring page maps back whole
  // page-cache folios (fault-around, large folios of several MiB), refilling the range.
  // Reading the range afterwards is an access violation. No-op for from_buffer files.
  void drop_pages(const uint8_t* data, size_t n) const;
  // True when the data is a mapping of a file (open / from_fd), false for from_buffer.
  bool is_mapped() const { return mapping_ != nullptr; }

  const Value* find(std::string_view key) const;
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws "missing tensor NAME"

  // Typed getters: throw when the key is absent or of an incompatible type; the get_or forms
  // return the fallback only when the key is absent.
  std::string get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::string get_string_or(std::string_view key, std::string fallback) const;
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_float_or(std::string_view key, double fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;

 private:
  GgufFile() = default;
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::vector<TensorInfo> tensors_;
  void parse();
  void parse_checked();
};

}  // namespace edgellm::gguf
