// GGUF reader: maps the file and validates every field before anything else may use it.
// All counts read from the file are untrusted: each is bounded by the bytes that remain before
// anything is allocated for it, so a hostile file cannot make us allocate more than a small
// multiple of its own size.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <new>
#include <unordered_set>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_format.h"

namespace edgellm::gguf {

static_assert(std::endian::native == std::endian::little, "GGUF is read in place as little-endian");

// ---- mapping ----

struct GgufFile::Mapping {
  void* address = nullptr;
  size_t length = 0;
  Mapping(void* a, size_t n) : address(a), length(n) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (address) munmap(address, length);
  }
};

GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t TensorInfo::n_rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

namespace {

// Sequential little-endian reads over the untrusted bytes; every failure names the byte offset.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  size_t size() const { return bytes_.size(); }

  template <typename... Args>
  [[noreturn]] void fail_at(size_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    fail("GGUF byte offset {}: {}", offset, fmt::format(format, std::forward<Args>(args)...));
  }

  void need(size_t n, std::string_view what) const {
    if (n > remaining())
      fail_at(pos_, "truncated {}: needs {} bytes, only {} left in the {}-byte file", what, n,
              remaining(), size());
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  // A count of items each at least min_item_bytes long must fit in the bytes that remain.
  uint64_t read_count(std::string_view what, size_t min_item_bytes) {
    const size_t at = pos_;
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining() / min_item_bytes)
      fail_at(at, "{} {} is impossible: only {} bytes remain in the {}-byte file", what, n,
              remaining(), size());
    return n;
  }

  // A length-prefixed string, viewed in place.
  std::string_view read_string_view(std::string_view what) {
    const size_t at = pos_;
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining())
      fail_at(at, "{} length {} exceeds the {} bytes left in the {}-byte file", what, n,
              remaining(), size());
    const std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string read_string(std::string_view what) { return std::string(read_string_view(what)); }

  std::span<const uint8_t> read_bytes(size_t n, std::string_view what) {
    need(n, what);
    const std::span<const uint8_t> s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// A key or tensor name from the file, fit for an error message: control bytes escaped and long
// names cut, so a hostile name cannot flood or garble the terminal.
std::string printable(std::string_view name) {
  constexpr size_t kMaxShown = 96;
  std::string out;
  for (size_t i = 0; i < name.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  if (name.size() > kMaxShown) out += fmt::format("...({} bytes)", name.size());
  return out;
}

size_t min_encoded_bytes(ValueType t) {
  switch (t) {
    case ValueType::STRING: return 8;        // length only
    case ValueType::ARRAY: return 4 + 8;     // element type + count
    default: return packed_size(t);
  }
}

ValueType read_value_type(Cursor& in, std::string_view what) {
  const size_t at = in.pos();
  const uint32_t raw = in.read<uint32_t>(what);
  if (raw > static_cast<uint32_t>(ValueType::F64)) in.fail_at(at, "unknown {} {}", what, raw);
  return static_cast<ValueType>(raw);
}

// Metadata values left to read. Numbers and strings cost about their bytes in the file, but a
// nested Array takes ~80 bytes for 12, so the total is capped against a hostile file.
struct ValueBudget {
  uint64_t left = kMaxMetadataValues;
  void take(const Cursor& in, size_t at, uint64_t n) {
    if (n > left)
      in.fail_at(at, "metadata holds more than {} values in total (the limit)", kMaxMetadataValues);
    left -= n;
  }
};

// Vectors sized by a file count reserve at most this many items up front and grow as items are
// actually read, so memory follows the bytes consumed, not the count claimed.
size_t initial_capacity(uint64_t n) { return static_cast<size_t>(std::min<uint64_t>(n, 4096)); }

// Numbers and bools are copied in one piece: read_count has already found all their bytes.
Array read_packed_array(Cursor& in, ValueType type, uint64_t n) {
  const size_t at = in.pos();
  const std::span<const uint8_t> bytes =
      in.read_bytes(static_cast<size_t>(n) * packed_size(type), "array items");
  if (type == ValueType::BOOL)
    for (size_t i = 0; i < bytes.size(); ++i)
      if (bytes[i] > 1) in.fail_at(at + i, "bool value {} is neither 0 nor 1", bytes[i]);
  return Array::from_packed(type, bytes);
}

// Strings are measured first and then copied into buffers of exactly that size, so the claimed
// count reserves nothing before the strings it promises have been found in the file.
Array read_string_array(Cursor& in, uint64_t n) {
  Cursor scan = in;
  size_t total_bytes = 0;
  for (uint64_t i = 0; i < n; ++i) {
    try {
      total_bytes += scan.read_string_view("string").size();
    } catch (const Error& e) {
      fail("{} (array item {} of {})", e.what(), i, n);
    }
  }
  if (total_bytes > std::numeric_limits<uint32_t>::max())
    in.fail_at(in.pos(), "string array holds {} bytes of text (the limit is 4 GiB)", total_bytes);
  Array array(ValueType::STRING);
  array.reserve_strings(static_cast<size_t>(n), total_bytes);
  for (uint64_t i = 0; i < n; ++i) array.append_string(in.read_string_view("string"));
  return array;
}

Array read_array(Cursor& in, ValueBudget& budget, int depth) {
  if (depth >= kMaxArrayDepth)
    in.fail_at(in.pos(), "arrays nested deeper than {} levels", kMaxArrayDepth);
  const ValueType type = read_value_type(in, "array element type");
  const size_t count_at = in.pos();
  const uint64_t n = in.read_count("array length", min_encoded_bytes(type));
  budget.take(in, count_at, n);
  if (type == ValueType::STRING) return read_string_array(in, n);
  if (type != ValueType::ARRAY) return read_packed_array(in, type, n);
  Array array(ValueType::ARRAY);
  for (uint64_t i = 0; i < n; ++i) array.append_array(read_array(in, budget, depth + 1));
  return array;
}

Value read_value(Cursor& in, ValueBudget& budget, ValueType type, int depth) {
  Value v;
  switch (type) {
    case ValueType::U8: v.data = in.read<uint8_t>("u8 value"); break;
    case ValueType::I8: v.data = in.read<int8_t>("i8 value"); break;
    case ValueType::U16: v.data = in.read<uint16_t>("u16 value"); break;
    case ValueType::I16: v.data = in.read<int16_t>("i16 value"); break;
    case ValueType::U32: v.data = in.read<uint32_t>("u32 value"); break;
    case ValueType::I32: v.data = in.read<int32_t>("i32 value"); break;
    case ValueType::F32: v.data = in.read<float>("f32 value"); break;
    case ValueType::U64: v.data = in.read<uint64_t>("u64 value"); break;
    case ValueType::I64: v.data = in.read<int64_t>("i64 value"); break;
    case ValueType::F64: v.data = in.read<double>("f64 value"); break;
    case ValueType::BOOL: {
      const size_t at = in.pos();
      const uint8_t b = in.read<uint8_t>("bool value");
      if (b > 1) in.fail_at(at, "bool value {} is neither 0 nor 1", b);
      v.data = b == 1;
      break;
    }
    case ValueType::STRING: v.data = in.read_string("string"); break;
    case ValueType::ARRAY: v.data = read_array(in, budget, depth); break;
  }
  return v;
}

// Size of a tensor in bytes, or an error naming what overflows or does not divide.
size_t tensor_bytes(const Cursor& in, size_t at, const TensorTypeTraits& tt,
                    const std::vector<int64_t>& dims) {
  if (dims[0] % tt.block_size != 0)
    in.fail_at(at, "row length {} is not a multiple of the {} block size {}", dims[0], tt.name,
               tt.block_size);
  // Blocks in the tensor, then bytes; both checked against overflow of int64 / size_t.
  uint64_t blocks = static_cast<uint64_t>(dims[0] / tt.block_size);
  for (size_t i = 1; i < dims.size(); ++i) {
    if (blocks > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) /
                     static_cast<uint64_t>(dims[i]))
      in.fail_at(at, "element count overflows");
    blocks *= static_cast<uint64_t>(dims[i]);
  }
  if (blocks > std::numeric_limits<size_t>::max() / tt.block_bytes)
    in.fail_at(at, "byte size overflows");
  return static_cast<size_t>(blocks) * tt.block_bytes;
}

// general.alignment must be a u32 power of two, as llama.cpp requires.
uint64_t checked_alignment(const Cursor& in, size_t at, const Value& v) {
  if (v.type() != ValueType::U32)
    in.fail_at(at, "{} must be a u32, found a {}", kAlignmentKey, value_type_name(v.type()));
  const uint32_t value = std::get<uint32_t>(v.data);
  if (!std::has_single_bit(value)) in.fail_at(at, "{} = {} is not a power of two", kAlignmentKey, value);
  return value;
}

}  // namespace

void GgufFile::parse() {
  Cursor in(bytes_);

  const uint32_t magic = in.read<uint32_t>("magic");
  if (magic != kMagic) {
    char text[5] = {};
    std::memcpy(text, &magic, 4);
    for (char& c : std::span(text, 4))
      if (c < 32 || c > 126) c = '?';
    in.fail_at(0, "bad magic 0x{:08x} (\"{}\"), expected \"GGUF\"; not a GGUF file", magic, text);
  }
  const uint32_t version = in.read<uint32_t>("version");
  if (version != 2 && version != 3) {
    const uint32_t swapped = (version >> 24) | ((version >> 8) & 0xff00u) |
                             ((version << 8) & 0xff0000u) | (version << 24);
    if (swapped == 2 || swapped == 3)
      in.fail_at(4, "big-endian GGUF (version {}) is not supported", swapped);
    in.fail_at(4, "unsupported GGUF version {} (only 2 and 3 are)", version);
  }
  version_ = version;

  const size_t tensor_count_at = in.pos();
  const uint64_t tensor_count = in.read<uint64_t>("tensor count");
  const uint64_t kv_count = in.read_count("metadata key/value count", kMinKeyValueBytes);
  if (tensor_count > in.remaining() / kMinTensorInfoBytes)
    in.fail_at(tensor_count_at, "tensor count {} is impossible: only {} bytes remain in the {}-byte file",
               tensor_count, in.remaining(), in.size());

  // ---- metadata ----
  alignment_ = kDefaultAlignment;
  metadata_.reserve(initial_capacity(kv_count));
  std::vector<size_t> kv_offsets;  // for naming a duplicate key's offset
  kv_offsets.reserve(initial_capacity(kv_count));
  ValueBudget budget;
  for (uint64_t i = 0; i < kv_count; ++i) {
    const size_t kv_at = in.pos();
    KeyValue kv;
    kv.key = in.read_string("metadata key");
    if (kv.key.empty()) in.fail_at(kv_at, "metadata key #{} is empty", i);
    try {
      const ValueType type = read_value_type(in, "value type");
      const size_t value_at = in.pos();
      budget.take(in, value_at, 1);
      kv.value = read_value(in, budget, type, 0);
      if (kv.key == kAlignmentKey) alignment_ = checked_alignment(in, value_at, kv.value);
    } catch (const Error& e) {
      fail("{} (in metadata key #{} '{}')", e.what(), i, printable(kv.key));
    }
    metadata_.push_back(std::move(kv));
    kv_offsets.push_back(kv_at);
  }
  {
    std::unordered_set<std::string_view> keys;  // views into metadata_, which no longer grows
    keys.reserve(metadata_.size());
    for (size_t i = 0; i < metadata_.size(); ++i)
      if (!keys.insert(metadata_[i].key).second)
        in.fail_at(kv_offsets[i], "duplicate metadata key '{}'", printable(metadata_[i].key));
  }

  // ---- tensor infos ----
  tensors_.reserve(initial_capacity(tensor_count));
  std::vector<size_t> info_offsets;
  info_offsets.reserve(initial_capacity(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const size_t info_at = in.pos();
    TensorInfo t;
    t.name = in.read_string("tensor name");
    try {
      if (t.name.empty()) in.fail_at(info_at, "empty tensor name");
      const size_t dims_at = in.pos();
      const uint32_t n_dims = in.read<uint32_t>("tensor dimension count");
      if (n_dims == 0 || n_dims > kMaxDims)
        in.fail_at(dims_at, "tensor has {} dimensions (must be 1..{})", n_dims, kMaxDims);
      t.dims.reserve(n_dims);
      for (uint32_t d = 0; d < n_dims; ++d) {
        const size_t dim_at = in.pos();
        const uint64_t dim = in.read<uint64_t>("tensor dimension");
        if (dim == 0) in.fail_at(dim_at, "dimension {} is zero", d);
        if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          in.fail_at(dim_at, "dimension {} = {} is too large", d, dim);
        t.dims.push_back(static_cast<int64_t>(dim));
      }
      const size_t type_at = in.pos();
      const uint32_t type_id = in.read<uint32_t>("tensor type");
      const auto tt = tensor_type_traits(type_id);
      if (!tt) in.fail_at(type_at, "unknown tensor type id {}", type_id);
      t.type = tt->type;
      t.n_bytes = tensor_bytes(in, dims_at, *tt, t.dims);
      const size_t offset_at = in.pos();
      t.offset = in.read<uint64_t>("tensor data offset");
      if (t.offset % alignment_ != 0)
        in.fail_at(offset_at, "data offset {} is not a multiple of the alignment {}", t.offset,
                   alignment_);
    } catch (const Error& e) {
      fail("{} (in tensor info #{} '{}')", e.what(), i, printable(t.name));
    }
    tensors_.push_back(std::move(t));
    info_offsets.push_back(info_at);
  }
  {
    std::unordered_set<std::string_view> names;  // views into tensors_, which no longer grows
    names.reserve(tensors_.size());
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (!names.insert(tensors_[i].name).second)
        in.fail_at(info_offsets[i], "duplicate tensor name '{}'", printable(tensors_[i].name));
  }

  // ---- data section ----
  const uint64_t infos_end = in.pos();
  data_offset_ = (infos_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return;  // vocab-only files may end without padding
  if (data_offset_ > bytes_.size())
    fail("GGUF byte offset {}: the data section (aligned to {}) starts past the end of the "
         "{}-byte file", data_offset_, alignment_, bytes_.size());
  const uint64_t data_size = bytes_.size() - data_offset_;
  for (TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.n_bytes > data_size - t.offset)
      fail("GGUF tensor '{}': data [{}, +{}) at absolute byte offset {} runs past the end of the "
           "{}-byte file",
           printable(t.name), t.offset, t.n_bytes, data_offset_ + t.offset, bytes_.size());
    t.data = bytes_.data() + data_offset_ + t.offset;
  }

  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& a = *by_offset[i - 1];
    const TensorInfo& b = *by_offset[i];
    if (a.offset + a.n_bytes > b.offset)
      fail("GGUF tensors '{}' and '{}' overlap: data [{}, {}) and [{}, {}) at absolute byte "
           "offsets {} and {}",
           printable(a.name), printable(b.name), a.offset, a.offset + a.n_bytes, b.offset,
           b.offset + b.n_bytes, data_offset_ + a.offset, data_offset_ + b.offset);
  }
}

// ---- constructors ----

GgufFile GgufFile::from_buffer(std::span<const uint8_t> buffer) {
  GgufFile f;
  f.bytes_ = buffer;
  f.parse_checked();
  return f;
}

// Metadata is held in memory; running out of it while reading is reported like bad input.
void GgufFile::parse_checked() {
  try {
    parse();
  } catch (const std::bad_alloc&) {
    fail("GGUF: out of memory while reading the metadata of a {}-byte file", bytes_.size());
  }
}

GgufFile GgufFile::from_fd(int fd) { return from_fd(fd, 0, 0); }

GgufFile GgufFile::from_fd(int fd, uint64_t offset, uint64_t length) {
  struct stat st {};
  if (fstat(fd, &st) != 0) fail("GGUF: cannot stat file descriptor {}: {}", fd, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("GGUF: file descriptor {} is not a regular file", fd);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (offset > file_size) fail("GGUF: offset {} is past the end of the {}-byte file", offset, file_size);
  if (length == 0) length = file_size - offset;
  if (length > file_size - offset)
    fail("GGUF: range [{}, +{}) runs past the end of the {}-byte file", offset, length, file_size);
  if (length > std::numeric_limits<size_t>::max()) fail("GGUF: file too large to map");

  GgufFile f;
  if (length == 0) {
    f.parse_checked();  // reports the empty file as a truncated magic
    return f;
  }
  // mmap needs a page-aligned start: map from the page holding `offset` and skip the slack.
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t map_start = offset / page * page;
  const size_t slack = static_cast<size_t>(offset - map_start);
  const size_t map_length = static_cast<size_t>(length) + slack;
  void* address = mmap(nullptr, map_length, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(map_start));
  if (address == MAP_FAILED) fail("GGUF: cannot map {} bytes: {}", map_length, std::strerror(errno));
  f.mapping_ = std::make_unique<Mapping>(address, map_length);
  f.bytes_ = std::span<const uint8_t>(static_cast<const uint8_t*>(address) + slack,
                                      static_cast<size_t>(length));
  f.parse_checked();
  return f;
}

void GgufFile::drop_pages(const uint8_t* data, size_t n) const {
  if (!mapping_ || n == 0) return;
  const auto base = reinterpret_cast<uintptr_t>(mapping_->address);
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(data), end = begin + n;
  if (begin < base || end > base + mapping_->length) fail("GGUF: drop_pages outside the mapping");
  begin = (begin + page - 1) / page * page;
  end = end / page * page;
  if (begin >= end) return;
  // MAP_PRIVATE and never written: the pages are clean, so unmapping them loses nothing. On
  // failure (e.g. the process's mapping count limit) fall back to dropping the pages.
  void* hole = mmap(reinterpret_cast<void*>(begin), end - begin, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  if (hole == MAP_FAILED) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

GgufFile GgufFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  try {
    GgufFile f = from_fd(fd);
    ::close(fd);  // the mapping stays valid without the descriptor
    return f;
  } catch (const Error& e) {
    ::close(fd);
    fail("{}: {}", path, e.what());
  }
}

}  // namespace edgellm::gguf
