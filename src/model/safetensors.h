// Reader for Hugging Face safetensors checkpoints: one file (8-byte little-endian header
// length, JSON header, data) or a sharded set listed by model.safetensors.index.json. Every
// header field is validated when a file is opened (length bound, JSON shape, dtype, shape,
// offsets inside the data section and consistent with dtype × shape), so reads never go out of
// bounds. Files are memory-mapped; tensors are converted to float32 on read.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgellm::model {

enum class SafeDtype { F32, F16, BF16 };
std::string_view safe_dtype_name(SafeDtype dtype);

struct SafeTensorInfo {
  std::string name;
  SafeDtype dtype = SafeDtype::F32;
  std::vector<int64_t> shape;  // outermost first, as PyTorch
  size_t offset = 0;           // absolute, within the file
  size_t n_bytes = 0;
  int64_t n_elements() const;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // Parses an in-memory file (the buffer must outlive the object); for tests and fuzzing.
  static SafetensorsFile from_buffer(std::span<const uint8_t> bytes, std::string label);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafeTensorInfo>& tensors() const { return tensors_; }
  const SafeTensorInfo* find(std::string_view name) const;
  std::span<const uint8_t> data(const SafeTensorInfo& info) const;
  std::vector<float> read_f32(const SafeTensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  void parse();
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;
  std::span<const uint8_t> bytes_;
  std::string path_;
  std::vector<SafeTensorInfo> tensors_;
};

// All tensors of a checkpoint directory: model.safetensors, or the shards named in
// model.safetensors.index.json (every indexed tensor must be found in its shard).
class SafetensorsCheckpoint {
 public:
  static SafetensorsCheckpoint open_dir(const std::string& dir);

  struct Entry {
    const SafetensorsFile* file;
    const SafeTensorInfo* info;
  };
  const std::vector<Entry>& tensors() const { return entries_; }
  const Entry* find(std::string_view name) const;
  std::vector<float> read_f32(const Entry& entry) const { return entry.file->read_f32(*entry.info); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<Entry> entries_;
};

}  // namespace edgellm::model
