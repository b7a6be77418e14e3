// GGUF v3 writer. Layout, as llama.cpp writes and reads it: header, key/values, tensor infos,
// zero padding to the alignment, then the data section where every tensor starts at an offset
// (relative to the section) that is a multiple of the alignment and is zero-padded to the next.
#include "gguf/gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "core/error.h"
#include "gguf/gguf_format.h"

namespace edgellm::gguf {
namespace {

uint64_t align_up(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

// Bytes go either into a vector or straight to a FILE, so write_file never holds the whole file.
class Sink {
 public:
  explicit Sink(std::vector<uint8_t>* buffer) : buffer_(buffer) {}
  Sink(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}

  void bytes(const void* data, size_t n) {
    if (n == 0) return;
    if (buffer_) {
      const auto* p = static_cast<const uint8_t*>(data);
      buffer_->insert(buffer_->end(), p, p + n);
    } else if (std::fwrite(data, 1, n, file_) != n) {
      fail("{}: write failed: {}", path_, std::strerror(errno));
    }
    written_ += n;
  }
  template <typename T>
  void pod(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes(&value, sizeof value);
  }
  void string(std::string_view s) {
    pod<uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void zeros(size_t n) {
    static constexpr uint8_t kZeros[64] = {};
    while (n > 0) {
      const size_t chunk = std::min(n, sizeof kZeros);
      bytes(kZeros, chunk);
      n -= chunk;
    }
  }
  void pad_to(uint64_t alignment) { zeros(static_cast<size_t>(align_up(written_, alignment) - written_)); }
  uint64_t written() const { return written_; }

 private:
  std::vector<uint8_t>* buffer_ = nullptr;
  std::FILE* file_ = nullptr;
  std::string path_;
  uint64_t written_ = 0;
};

// Checks that an array can be written: nested within what the reader accepts (an Array already
// holds only items of its element type).
void check_array(const Array& a, int depth, std::string_view key) {
  if (depth >= kMaxArrayDepth)
    fail("metadata key '{}': arrays nested deeper than {} levels", key, kMaxArrayDepth);
  if (a.element_type() != ValueType::ARRAY) return;
  for (size_t i = 0; i < a.size(); ++i) check_array(a.array_at(i), depth + 1, key);
}

void write_array_payload(Sink& out, const Array& a) {
  out.pod<uint32_t>(static_cast<uint32_t>(a.element_type()));
  out.pod<uint64_t>(a.size());
  switch (a.element_type()) {
    case ValueType::STRING:
      for (size_t i = 0; i < a.size(); ++i) out.string(a.string_at(i));
      break;
    case ValueType::ARRAY:
      for (size_t i = 0; i < a.size(); ++i) write_array_payload(out, a.array_at(i));
      break;
    default:
      out.bytes(a.packed_bytes().data(), a.packed_bytes().size());  // already the GGUF encoding
  }
}

void write_value_payload(Sink& out, const Value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out.string(x);
        } else if constexpr (std::is_same_v<T, Array>) {
          write_array_payload(out, x);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.pod<uint8_t>(x ? 1 : 0);
        } else {
          out.pod<T>(x);
        }
      },
      v.data);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Files are written under a temporary name and renamed when complete, so a reader never sees a
// half-written GGUF and a file being rewritten in place stays intact (it may still be mapped).
std::string partial_path(const std::string& path) { return path + ".partial"; }

void commit_file(const std::string& path) {
  if (std::rename(partial_path(path).c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(partial_path(path).c_str());
    fail("{}: cannot rename the finished file into place: {}", path, std::strerror(error));
  }
}

}  // namespace

// ---- metadata ----

void GgufWriter::set(std::string_view key, Value value) {
  if (key.empty()) fail("GGUF writer: empty metadata key");
  if (const Array* a = std::get_if<Array>(&value.data)) check_array(*a, 0, key);
  if (key == kAlignmentKey) {
    const uint32_t* a = std::get_if<uint32_t>(&value.data);
    if (!a) fail("GGUF writer: {} must be a u32, got a {}", key, value_type_name(value.type()));
    if (!std::has_single_bit(*a)) fail("GGUF writer: {} = {} is not a power of two", key, *a);
  }
  for (KeyValue& kv : metadata_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back(KeyValue{std::string(key), std::move(value)});
}

void GgufWriter::set_string(std::string_view key, std::string value) { set(key, Value{std::move(value)}); }
void GgufWriter::set_u32(std::string_view key, uint32_t value) { set(key, Value{value}); }
void GgufWriter::set_i32(std::string_view key, int32_t value) { set(key, Value{value}); }
void GgufWriter::set_u64(std::string_view key, uint64_t value) { set(key, Value{value}); }
void GgufWriter::set_f32(std::string_view key, float value) { set(key, Value{value}); }
void GgufWriter::set_bool(std::string_view key, bool value) { set(key, Value{value}); }

void GgufWriter::set_string_array(std::string_view key, const std::vector<std::string>& values) {
  set(key, Value{Array::from_strings(values)});
}
void GgufWriter::set_f32_array(std::string_view key, const std::vector<float>& values) {
  set(key, Value{Array::from_numbers<float>(values)});
}
void GgufWriter::set_i32_array(std::string_view key, const std::vector<int32_t>& values) {
  set(key, Value{Array::from_numbers<int32_t>(values)});
}

void GgufWriter::remove(std::string_view key) {
  std::erase_if(metadata_, [&](const KeyValue& kv) { return kv.key == key; });
}

// ---- tensors ----

void GgufWriter::declare_tensor(std::string name, TensorType type, std::vector<int64_t> dims) {
  if (stream_) fail("GGUF writer: cannot add tensor '{}' while streaming", name);
  if (name.empty()) fail("GGUF writer: empty tensor name");
  if (name.size() > kMaxTensorNameBytes)
    fail("GGUF writer: tensor name '{}' is {} bytes, llama.cpp allows at most {}", name,
         name.size(), kMaxTensorNameBytes);
  for (const PendingTensor& t : tensors_)
    if (t.name == name) fail("GGUF writer: duplicate tensor name '{}'", name);
  if (dims.empty() || dims.size() > kMaxDims)
    fail("GGUF writer: tensor '{}' has {} dimensions (must be 1..{})", name, dims.size(), kMaxDims);
  for (int64_t d : dims)
    if (d <= 0) fail("GGUF writer: tensor '{}' has dimension {} (must be > 0)", name, d);
  const TensorTypeTraits& tt = traits(type);
  if (dims[0] % tt.block_size != 0)
    fail("GGUF writer: tensor '{}': row length {} is not a multiple of the {} block size {}", name,
         dims[0], tt.name, tt.block_size);
  uint64_t blocks = static_cast<uint64_t>(dims[0] / tt.block_size);
  for (size_t i = 1; i < dims.size(); ++i) {
    if (blocks > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / static_cast<uint64_t>(dims[i]))
      fail("GGUF writer: tensor '{}': element count overflows", name);
    blocks *= static_cast<uint64_t>(dims[i]);
  }
  if (blocks > std::numeric_limits<size_t>::max() / tt.block_bytes)
    fail("GGUF writer: tensor '{}': byte size overflows", name);
  const size_t n_bytes = static_cast<size_t>(blocks) * tt.block_bytes;
  tensors_.push_back(PendingTensor{std::move(name), type, std::move(dims), n_bytes, {}, false});
}

void GgufWriter::add_tensor(std::string name, TensorType type, std::vector<int64_t> dims,
                            std::span<const uint8_t> data) {
  declare_tensor(std::move(name), type, std::move(dims));
  PendingTensor& t = tensors_.back();
  if (data.size() != t.n_bytes) {
    const std::string bad = t.name;
    const size_t expected = t.n_bytes;
    tensors_.pop_back();
    fail("GGUF writer: tensor '{}' needs {} bytes of data, got {}", bad, expected, data.size());
  }
  t.data.assign(data.begin(), data.end());
  t.has_data = true;
}

// ---- output ----

namespace {

uint64_t alignment_of(const std::vector<KeyValue>& metadata) {
  for (const KeyValue& kv : metadata)
    if (kv.key == kAlignmentKey) return std::get<uint32_t>(kv.value.data);  // checked in set()
  return kDefaultAlignment;
}

// Header, metadata, tensor infos and the padding up to the data section.
template <typename Tensors>
void write_head(Sink& out, const std::vector<KeyValue>& metadata, const Tensors& tensors) {
  const uint64_t alignment = alignment_of(metadata);
  out.pod<uint32_t>(kMagic);
  out.pod<uint32_t>(kWriteVersion);
  out.pod<uint64_t>(tensors.size());
  out.pod<uint64_t>(metadata.size());
  for (const KeyValue& kv : metadata) {
    out.string(kv.key);
    out.pod<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    write_value_payload(out, kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    out.string(t.name);
    out.pod<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) out.pod<uint64_t>(static_cast<uint64_t>(d));
    out.pod<uint32_t>(static_cast<uint32_t>(t.type));
    out.pod<uint64_t>(offset);
    offset += align_up(t.n_bytes, alignment);
  }
  out.pad_to(alignment);
}

}  // namespace

void GgufWriter::write_file(const std::string& path) const {
  for (const PendingTensor& t : tensors_)
    if (!t.has_data) fail("GGUF writer: tensor '{}' was declared for streaming; use begin_stream", t.name);
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(partial_path(path).c_str(), "wb"));
  if (!file) fail("{}: cannot create: {}", partial_path(path), std::strerror(errno));
  try {
    Sink out(file.get(), path);
    write_head(out, metadata_, tensors_);
    const uint64_t alignment = alignment_of(metadata_);
    for (const PendingTensor& t : tensors_) {
      out.bytes(t.data.data(), t.data.size());
      out.pad_to(alignment);
    }
    if (std::fclose(file.release()) != 0) fail("{}: write failed: {}", path, std::strerror(errno));
  } catch (const Error&) {
    file.reset();
    std::remove(partial_path(path).c_str());
    throw;
  }
  commit_file(path);
}

std::vector<uint8_t> GgufWriter::write_buffer() const {
  for (const PendingTensor& t : tensors_)
    if (!t.has_data) fail("GGUF writer: tensor '{}' was declared for streaming; use begin_stream", t.name);
  std::vector<uint8_t> buffer;
  Sink out(&buffer);
  write_head(out, metadata_, tensors_);
  const uint64_t alignment = alignment_of(metadata_);
  for (const PendingTensor& t : tensors_) {
    out.bytes(t.data.data(), t.data.size());
    out.pad_to(alignment);
  }
  return buffer;
}

// ---- streaming ----

void GgufWriter::begin_stream(const std::string& path) {
  if (stream_) fail("GGUF writer: already streaming to {}", stream_path_);
  std::FILE* file = std::fopen(partial_path(path).c_str(), "wb");
  if (!file) fail("{}: cannot create: {}", partial_path(path), std::strerror(errno));
  stream_ = file;
  stream_path_ = path;
  next_stream_tensor_ = 0;
  try {
    Sink out(stream_, stream_path_);
    write_head(out, metadata_, tensors_);
    write_stored_tensors();
  } catch (const Error&) {
    abort_stream();
    throw;
  }
}

// Writes the in-memory tensors that come next in order, up to the next streamed one.
void GgufWriter::write_stored_tensors() {
  const uint64_t alignment = alignment_of(metadata_);
  Sink out(stream_, stream_path_);
  while (next_stream_tensor_ < tensors_.size() && tensors_[next_stream_tensor_].has_data) {
    const PendingTensor& t = tensors_[next_stream_tensor_];
    out.bytes(t.data.data(), t.data.size());
    out.zeros(static_cast<size_t>(align_up(t.n_bytes, alignment) - t.n_bytes));
    ++next_stream_tensor_;
  }
}

void GgufWriter::write_tensor_data(std::string_view name, std::span<const uint8_t> data) {
  if (!stream_) fail("GGUF writer: write_tensor_data('{}') outside begin_stream/finish_stream", name);
  if (next_stream_tensor_ >= tensors_.size())
    fail("GGUF writer: tensor '{}' written after all tensors of {}", name, stream_path_);
  const PendingTensor& t = tensors_[next_stream_tensor_];
  if (t.name != name)
    fail("GGUF writer: tensor '{}' written out of order, expected '{}' next", name, t.name);
  if (data.size() != t.n_bytes)
    fail("GGUF writer: tensor '{}' needs {} bytes of data, got {}", name, t.n_bytes, data.size());
  try {
    Sink out(stream_, stream_path_);
    out.bytes(data.data(), data.size());
    out.zeros(static_cast<size_t>(align_up(t.n_bytes, alignment_of(metadata_)) - t.n_bytes));
    ++next_stream_tensor_;
    write_stored_tensors();
  } catch (const Error&) {
    abort_stream();
    throw;
  }
}

void GgufWriter::finish_stream() {
  if (!stream_) fail("GGUF writer: finish_stream without begin_stream");
  if (next_stream_tensor_ < tensors_.size()) {
    const std::string missing = tensors_[next_stream_tensor_].name;
    abort_stream();
    fail("GGUF writer: stream finished before tensor '{}' was written", missing);
  }
  std::FILE* file = stream_;
  stream_ = nullptr;
  if (std::fclose(file) != 0) {
    std::remove(partial_path(stream_path_).c_str());
    fail("{}: write failed: {}", stream_path_, std::strerror(errno));
  }
  commit_file(stream_path_);
}

// Closes and deletes a half-written stream; the destination is left untouched.
void GgufWriter::abort_stream() {
  if (!stream_) return;
  std::fclose(stream_);
  stream_ = nullptr;
  std::remove(partial_path(stream_path_).c_str());
}

GgufWriter::GgufWriter() = default;
GgufWriter::~GgufWriter() { abort_stream(); }

GgufWriter::GgufWriter(GgufWriter&& other) noexcept
    : metadata_(std::move(other.metadata_)),
      tensors_(std::move(other.tensors_)),
      stream_(std::exchange(other.stream_, nullptr)),
      next_stream_tensor_(other.next_stream_tensor_),
      stream_path_(std::move(other.stream_path_)) {}

GgufWriter& GgufWriter::operator=(GgufWriter&& other) noexcept {
  if (this != &other) {
    abort_stream();
    metadata_ = std::move(other.metadata_);
    tensors_ = std::move(other.tensors_);
    stream_ = std::exchange(other.stream_, nullptr);
    next_stream_tensor_ = other.next_stream_tensor_;
    stream_path_ = std::move(other.stream_path_);
  }
  return *this;
}

}  // namespace edgellm::gguf
