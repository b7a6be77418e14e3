// GGUF v2/v3 reader. A GgufFile is validated completely when it is opened (header, metadata,
// tensor table, data ranges), so later code can trust every field. Tensor data is never copied:
// it points into the mmapped file or into the caller's buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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
struct Array {
  ValueType element_type = ValueType::U8;
  std::vector<Value> items;
};

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
