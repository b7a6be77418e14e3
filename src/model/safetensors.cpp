#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fp16.h"

namespace edgellm::model {

namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // as the reference implementation

size_t dtype_size(SafeDtype d) { return d == SafeDtype::F32 ? 4 : 2; }

SafeDtype parse_dtype(const std::string& s, const std::string& where, const std::string& tensor) {
  if (s == "F32") return SafeDtype::F32;
  if (s == "F16") return SafeDtype::F16;
  if (s == "BF16") return SafeDtype::BF16;
  fail("{}: tensor '{}' has dtype {}, only F32, F16 and BF16 are supported", where, tensor, s);
}

uint64_t json_uint(const nlohmann::json& v, const std::string& where, const std::string& what) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    fail("{}: {} must be a non-negative integer", where, what);
  return v.get<uint64_t>();
}

}  // namespace

std::string_view safe_dtype_name(SafeDtype d) {
  switch (d) {
    case SafeDtype::F32: return "F32";
    case SafeDtype::F16: return "F16";
    case SafeDtype::BF16: return "BF16";
  }
  return "?";
}

int64_t SafeTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr != nullptr) munmap(addr, size);
  }
};

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open safetensors file {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail("cannot stat {}: {}", path, std::strerror(err));
  }
  SafetensorsFile f;
  f.path_ = path;
  f.mapping_ = std::make_unique<Mapping>();
  const auto size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("cannot map {}: {}", path, std::strerror(err));
    }
    f.mapping_->addr = addr;
    f.mapping_->size = size;
    f.bytes_ = {static_cast<const uint8_t*>(addr), size};
  }
  ::close(fd);
  f.parse();
  return f;
}

SafetensorsFile SafetensorsFile::from_buffer(std::span<const uint8_t> bytes, std::string label) {
  SafetensorsFile f;
  f.path_ = std::move(label);
  f.bytes_ = bytes;
  f.parse();
  return f;
}

void SafetensorsFile::parse() {
  const std::string& where = path_;
  if (bytes_.size() < 8) fail("{}: file of {} bytes is too short for a safetensors header", where, bytes_.size());
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes_[static_cast<size_t>(i)];
  if (header_len > kMaxHeaderBytes) fail("{}: header length {} exceeds the limit of {} bytes", where, header_len, kMaxHeaderBytes);
  if (header_len > bytes_.size() - 8) fail("{}: header length {} runs past the end of the {}-byte file", where, header_len, bytes_.size());
  const size_t data_start = 8 + static_cast<size_t>(header_len);
  const size_t data_size = bytes_.size() - data_start;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + static_cast<std::ptrdiff_t>(data_start));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: header is not valid JSON: {}", where, e.what());
  }
  if (!header.is_object()) fail("{}: header must be a JSON object", where);

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const nlohmann::json& v = it.value();
    if (!v.is_object()) fail("{}: entry '{}' is not an object", where, name);
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail("{}: tensor '{}' has no dtype", where, name);
    if (!v.contains("shape") || !v["shape"].is_array()) fail("{}: tensor '{}' has no shape", where, name);
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail("{}: tensor '{}' needs data_offsets [begin, end]", where, name);
    SafeTensorInfo t;
    t.name = name;
    t.dtype = parse_dtype(v["dtype"].get<std::string>(), where, name);
    uint64_t n_elements = 1;
    for (const auto& d : v["shape"]) {
      const uint64_t dim = json_uint(d, where, fmt::format("a dimension of tensor '{}'", name));
      if (dim > uint64_t{1} << 40 || (dim != 0 && n_elements > (uint64_t{1} << 50) / dim))
        fail("{}: tensor '{}' has an implausibly large shape", where, name);
      n_elements *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t begin = json_uint(v["data_offsets"][0], where, fmt::format("data_offsets of '{}'", name));
    const uint64_t end = json_uint(v["data_offsets"][1], where, fmt::format("data_offsets of '{}'", name));
    if (begin > end || end > data_size)
      fail("{}: tensor '{}' has data_offsets [{}, {}] outside the {}-byte data section", where, name, begin, end, data_size);
    if (end - begin != n_elements * dtype_size(t.dtype))
      fail("{}: tensor '{}' holds {} bytes but its dtype and shape need {}", where, name, end - begin,
           n_elements * dtype_size(t.dtype));
    t.offset = data_start + static_cast<size_t>(begin);
    t.n_bytes = static_cast<size_t>(end - begin);
    tensors_.push_back(std::move(t));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const SafeTensorInfo& a, const SafeTensorInfo& b) { return a.name < b.name; });
}

const SafeTensorInfo* SafetensorsFile::find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const SafeTensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::span<const uint8_t> SafetensorsFile::data(const SafeTensorInfo& info) const {
  return bytes_.subspan(info.offset, info.n_bytes);
}

std::vector<float> SafetensorsFile::read_f32(const SafeTensorInfo& info) const {
  const auto n = static_cast<size_t>(info.n_elements());
  std::vector<float> out(n);
  const uint8_t* p = bytes_.data() + info.offset;
  switch (info.dtype) {
    case SafeDtype::F32:
      std::memcpy(out.data(), p, n * 4);
      break;
    case SafeDtype::F16:
    case SafeDtype::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = info.dtype == SafeDtype::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      }
      break;
  }
  return out;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  SafetensorsCheckpoint c;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor -> shard
  if (fs::exists(index_path)) {
    std::ifstream in(index_path);
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not valid JSON: {}", index_path.string(), e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("{}: has no 'weight_map' object", index_path.string());
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail("{}: shard of '{}' is not a string", index_path.string(), it.key());
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "..")
        fail("{}: shard name '{}' must be a plain file name", index_path.string(), shard);
      weight_map[it.key()] = shard;
    }
    std::set<std::string> shards;
    for (const auto& [name, shard] : weight_map) shards.insert(shard);
    for (const std::string& shard : shards)
      c.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open((fs::path(dir) / shard).string())));
  } else {
    const fs::path single = fs::path(dir) / "model.safetensors";
    if (!fs::exists(single))
      fail("{}: no model.safetensors or model.safetensors.index.json found", dir);
    c.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(single.string())));
  }

  std::set<std::string> seen;
  for (const auto& f : c.files_) {
    const std::string shard = fs::path(f->path()).filename().string();
    for (const SafeTensorInfo& t : f->tensors()) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(t.name);
        if (it == weight_map.end() || it->second != shard) continue;  // not this shard's copy
      }
      if (!seen.insert(t.name).second) fail("{}: tensor '{}' appears twice", dir, t.name);
      c.entries_.push_back({f.get(), &t});
    }
  }
  for (const auto& [name, shard] : weight_map)
    if (!seen.count(name)) fail("{}: tensor '{}' is listed in the index but missing from shard {}", dir, name, shard);
  std::sort(c.entries_.begin(), c.entries_.end(),
            [](const Entry& a, const Entry& b) { return a.info->name < b.info->name; });
  return c;
}

const SafetensorsCheckpoint::Entry* SafetensorsCheckpoint::find(std::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const Entry& e, std::string_view n) { return e.info->name < n; });
  return it != entries_.end() && it->info->name == name ? &*it : nullptr;
}

}  // namespace edgellm::model
