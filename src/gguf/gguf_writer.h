// GGUF v3 writer producing files that llama.cpp loads: metadata in insertion order, tensor infos,
// data section aligned to general.alignment (default 32) with every tensor padded to it.
// Two ways to write: collect tensors in memory and write_file(), or stream (begin/write/finish)
// so that a quantizer holds only one tensor at a time.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf_file.h"

namespace edgellm::gguf {

class GgufWriter {
 public:
  GgufWriter();
  ~GgufWriter();  // an unfinished stream is closed and its partial file deleted
  GgufWriter(GgufWriter&&) noexcept;
  GgufWriter& operator=(GgufWriter&&) noexcept;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata. Setting an existing key replaces its value in place (order kept).
  void set(std::string_view key, Value value);
  void set_string(std::string_view key, std::string value);
  void set_u32(std::string_view key, uint32_t value);
  void set_i32(std::string_view key, int32_t value);
  void set_u64(std::string_view key, uint64_t value);
  void set_f32(std::string_view key, float value);
  void set_bool(std::string_view key, bool value);
  void set_string_array(std::string_view key, const std::vector<std::string>& values);
  void set_f32_array(std::string_view key, const std::vector<float>& values);
  void set_i32_array(std::string_view key, const std::vector<int32_t>& values);
  void remove(std::string_view key);
  const std::vector<KeyValue>& metadata() const { return metadata_; }

  // Tensors. dims[0] is the row length (fastest-varying), as in GgufFile.
  // The in-memory form copies `data` (its size must equal the tensor's byte count).
  void add_tensor(std::string name, TensorType type, std::vector<int64_t> dims,
                  std::span<const uint8_t> data);
  // The streaming form declares the tensor now and takes its bytes in write_tensor_data().
  void declare_tensor(std::string name, TensorType type, std::vector<int64_t> dims);

  // Writes everything added with add_tensor (no declared-only tensors allowed).
  void write_file(const std::string& path) const;
  std::vector<uint8_t> write_buffer() const;

  // Files are written as PATH.partial and renamed to PATH once complete.
  // Streaming: header + metadata + tensor infos now, then each declared tensor's bytes in
  // declaration order, then finish() (checks that every tensor was written).
  void begin_stream(const std::string& path);
  void write_tensor_data(std::string_view name, std::span<const uint8_t> data);
  void finish_stream();

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> dims;
    size_t n_bytes;
    std::vector<uint8_t> data;  // empty for declared (streamed) tensors
    bool has_data;
  };
  std::vector<KeyValue> metadata_;
  std::vector<PendingTensor> tensors_;
  // streaming state
  std::FILE* stream_ = nullptr;
  size_t next_stream_tensor_ = 0;
  std::string stream_path_;
  void write_stored_tensors();
  void abort_stream();
};

}  // namespace edgellm::gguf
