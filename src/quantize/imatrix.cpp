#include "quantize/imatrix.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "core/error.h"

namespace edgellm::quantize {

namespace {

// Bounds-checked little-endian reader over the file's bytes.
class Reader {
 public:
  Reader(const std::string& path, std::span<const uint8_t> bytes) : path_(path), bytes_(bytes) {}
  bool at_end() const { return pos_ == bytes_.size(); }
  size_t pos() const { return pos_; }

  int32_t i32(std::string_view what) {
    int32_t v;
    std::memcpy(&v, take(sizeof v, what), sizeof v);
    return v;
  }
  std::string string(size_t n, std::string_view what) {
    const uint8_t* p = take(n, what);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  void floats(float* out, size_t n, std::string_view what) {
    std::memcpy(out, take(n * sizeof(float), what), n * sizeof(float));
  }

 private:
  const uint8_t* take(size_t n, std::string_view what) {
    if (n > bytes_.size() - pos_)
      fail("{}: truncated imatrix file: {} needs {} bytes at offset {}, {} left", path_, what, n, pos_,
           bytes_.size() - pos_);
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  const std::string& path_;
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

void write_i32(std::FILE* f, int32_t v) { std::fwrite(&v, sizeof v, 1, f); }

int32_t checked_i32(size_t n, std::string_view what) {
  if (n > static_cast<size_t>(INT32_MAX)) fail("imatrix: {} ({}) does not fit the .dat format", what, n);
  return static_cast<int32_t>(n);
}

}  // namespace

const std::vector<float>* ImatrixData::find(std::string_view weight) const {
  const auto it = importance.find(weight);
  return it == importance.end() ? nullptr : &it->second;
}

ImatrixData load_imatrix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read imatrix file {}", path);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0)
    fail("{} is a GGUF-format imatrix; edgellm reads llama.cpp's legacy .dat format "
         "(llama-imatrix --output-format dat)", path);
  Reader r(path, bytes);
  ImatrixData data;
  const int32_t n_entries = r.i32("the entry count");
  if (n_entries < 1) fail("{}: imatrix has {} entries (expected at least 1)", path, n_entries);
  for (int32_t e = 0; e < n_entries; ++e) {
    const int32_t len = r.i32("a name length");
    if (len <= 0 || len > 4096) fail("{}: entry {} has a name length of {}", path, e, len);
    std::string name = r.string(static_cast<size_t>(len), "a name");
    const int32_t ncall = r.i32("ncall");
    const int32_t nval = r.i32("nval");
    if (ncall < 0) fail("{}: entry '{}' has a negative call count {}", path, name, ncall);
    if (nval < 1) fail("{}: entry '{}' has {} values", path, name, nval);
    std::vector<float> values(static_cast<size_t>(nval));
    r.floats(values.data(), values.size(), "the values of '" + name + "'");
    for (float& v : values) {
      if (!std::isfinite(v) || v < 0.0f)
        fail("{}: entry '{}' holds {} (importance must be finite and non-negative)", path, name, v);
      if (ncall > 0) v /= static_cast<float>(ncall);  // back to the per-token mean, as llama-quantize
    }
    if (data.importance.count(name)) fail("{}: entry '{}' appears twice", path, name);
    data.n_calls[name] = ncall;
    data.importance.emplace(std::move(name), std::move(values));
  }
  if (!r.at_end()) {  // optional trailer: chunk count and calibration file name
    data.n_chunks = r.i32("the chunk count");
    if (!r.at_end()) {
      const int32_t len = r.i32("the dataset name length");
      if (len < 0) fail("{}: dataset name length {}", path, len);
      data.dataset = r.string(static_cast<size_t>(len), "the dataset name");
    }
    if (!r.at_end()) fail("{}: {} unexpected bytes after the imatrix trailer", path, bytes.size() - r.pos());
  }
  return data;
}

void save_imatrix(const ImatrixData& data, const std::string& path) {
  if (data.importance.empty()) fail("imatrix: nothing to save to {}", path);
  const std::string partial = path + ".partial";
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(partial.c_str(), "wb"));
  if (!f) fail("{}: cannot create: {}", partial, std::strerror(errno));
  write_i32(f.get(), checked_i32(data.importance.size(), "entry count"));
  for (const auto& [name, values] : data.importance) {  // std::map: sorted by name, as llama.cpp
    const auto it = data.n_calls.find(name);
    const int32_t ncall = it == data.n_calls.end() ? 1 : it->second;
    write_i32(f.get(), checked_i32(name.size(), "name length"));
    std::fwrite(name.data(), 1, name.size(), f.get());
    write_i32(f.get(), ncall);
    write_i32(f.get(), checked_i32(values.size(), "value count"));
    // Stored scaled by ncall; readers divide it back out.
    std::vector<float> scaled(values);
    for (float& v : scaled) v *= static_cast<float>(std::max(ncall, 1));
    std::fwrite(scaled.data(), sizeof(float), scaled.size(), f.get());
  }
  write_i32(f.get(), data.n_chunks);
  write_i32(f.get(), checked_i32(data.dataset.size(), "dataset name length"));
  std::fwrite(data.dataset.data(), 1, data.dataset.size(), f.get());
  const bool ok = std::ferror(f.get()) == 0 && std::fflush(f.get()) == 0;
  f.reset();
  if (!ok || std::rename(partial.c_str(), path.c_str()) != 0) {
    std::remove(partial.c_str());
    fail("{}: write failed: {}", path, std::strerror(errno));
  }
}

void ImatrixCollector::observe(std::string_view weight, const float* x, int64_t n_tokens, int64_t cols) {
  if (n_tokens < options_.min_tokens) return;
  const bool is_output = weight == "output.weight" || weight == "token_embd.weight";
  if (!weight.starts_with("blk.") && !(options_.include_output && is_output)) return;
  auto it = entries_.find(weight);
  if (it == entries_.end()) {
    it = entries_.emplace(std::string(weight), Entry{}).first;
    it->second.sum_sq.assign(static_cast<size_t>(cols), 0.0);
  } else if (static_cast<int64_t>(it->second.sum_sq.size()) != cols) {
    fail("imatrix: '{}' was seen with {} columns, now {}", weight, it->second.sum_sq.size(), cols);
  }
  double* acc = it->second.sum_sq.data();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* row = x + t * cols;
    for (int64_t j = 0; j < cols; ++j) acc[j] += static_cast<double>(row[j]) * row[j];
  }
  it->second.n_tokens += n_tokens;
}

ImatrixData ImatrixCollector::result(int64_t chunk_size, int32_t n_chunks, std::string dataset) const {
  if (chunk_size <= 0) fail("imatrix: chunk size {} must be positive", chunk_size);
  if (entries_.empty()) fail("imatrix: no activations were collected (batches of at least {} tokens are needed)",
                             options_.min_tokens);
  ImatrixData data;
  data.n_chunks = n_chunks;
  data.dataset = std::move(dataset);
  for (const auto& [name, e] : entries_) {
    std::vector<float> mean(e.sum_sq.size());
    for (size_t j = 0; j < mean.size(); ++j) {
      mean[j] = static_cast<float>(e.sum_sq[j] / static_cast<double>(e.n_tokens));
      if (!std::isfinite(mean[j])) fail("imatrix: non-finite activation statistics for '{}'", name);
    }
    data.importance.emplace(name, std::move(mean));
    data.n_calls[name] = static_cast<int32_t>((e.n_tokens + chunk_size - 1) / chunk_size);
  }
  return data;
}

}  // namespace edgellm::quantize
