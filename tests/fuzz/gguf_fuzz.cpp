// libFuzzer target for the GGUF reader. Whatever the input, from_buffer must either throw
// edgellm::Error or return a file whose every field is safe to use; for the files it accepts,
// the writer must reproduce them (same metadata, same tensors) — a round-trip oracle that
// catches reader/writer disagreements, not only crashes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace {

using namespace edgellm;
using namespace edgellm::gguf;

// Fuzz oracles abort (not throw) so libFuzzer records the input as a crash.
void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Every getter on every key: each either answers or throws edgellm::Error.
void exercise_getters(const GgufFile& f) {
  volatile size_t sink = 0;
  for (const KeyValue& kv : f.metadata()) {
    check(f.find(kv.key) == &kv.value);
    const std::string_view key = kv.key;
    try { sink = sink + f.get_string(key).size(); } catch (const Error&) {}
    try { sink = sink + static_cast<size_t>(f.get_int(key)); } catch (const Error&) {}
    try { sink = sink + static_cast<size_t>(f.get_uint(key)); } catch (const Error&) {}
    try { sink = sink + static_cast<size_t>(f.get_float(key) != 0); } catch (const Error&) {}
    try { sink = sink + f.get_bool(key); } catch (const Error&) {}
    try { sink = sink + f.get_string_or(key, "x").size(); } catch (const Error&) {}
    try { sink = sink + static_cast<size_t>(f.get_int_or(key, 1)); } catch (const Error&) {}
    try { sink = sink + static_cast<size_t>(f.get_float_or(key, 1) != 0); } catch (const Error&) {}
    try { sink = sink + f.get_bool_or(key, true); } catch (const Error&) {}
    try { sink = sink + f.get_string_array(key).size(); } catch (const Error&) {}
    try { sink = sink + f.get_float_array(key).size(); } catch (const Error&) {}
    try { sink = sink + f.get_int_array(key).size(); } catch (const Error&) {}
    try { sink = sink + kv.value.as_array().size(); } catch (const Error&) {}
  }
  check(f.find("") == nullptr);
  for (const TensorInfo& t : f.tensors()) {
    check(f.find_tensor(t.name) == &t);
    check(&f.tensor(t.name) == &t);
    check(!t.dims.empty() && t.n_elements() > 0 && t.n_rows() > 0);
    check(row_bytes(t.type, t.dims[0]) * static_cast<size_t>(t.n_rows()) == t.n_bytes);
    check(t.data >= f.bytes().data() && t.data + t.n_bytes <= f.bytes().data() + f.bytes().size());
    check(t.offset % f.alignment() == 0);
    sink = sink + t.data[0] + t.data[t.n_bytes - 1];  // ASan flags any byte outside the input
  }
  try {
    f.tensor("\x01 no such tensor");
    check(false);
  } catch (const Error&) {
  }
}

// Writes what was read and reads it back: the two must agree exactly.
void round_trip(const GgufFile& f) {
  GgufWriter w;
  for (const KeyValue& kv : f.metadata()) w.set(kv.key, kv.value);  // must not throw
  for (const TensorInfo& t : f.tensors()) {
    if (t.name.size() > 63) return;  // readable, but llama.cpp (and so our writer) caps names
    w.add_tensor(t.name, t.type, t.dims, std::span(t.data, t.n_bytes));
  }
  const std::vector<uint8_t> bytes = w.write_buffer();
  const GgufFile g = GgufFile::from_buffer(bytes);
  check(g.alignment() == f.alignment());
  check(g.metadata().size() == f.metadata().size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    check(g.metadata()[i].key == f.metadata()[i].key);
    check(identical(g.metadata()[i].value, f.metadata()[i].value));
  }
  check(g.tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const TensorInfo& a = f.tensors()[i];
    const TensorInfo& b = g.tensors()[i];
    check(a.name == b.name && a.type == b.type && a.dims == b.dims && a.n_bytes == b.n_bytes);
    check(std::memcmp(a.data, b.data, a.n_bytes) == 0);
  }
}

}  // namespace

// Any edgellm::Error escaping exercise_getters or round_trip is a bug and aborts the run.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<GgufFile> file;
  try {
    file.emplace(GgufFile::from_buffer(std::span<const uint8_t>(data, size)));
  } catch (const Error&) {
    return 0;  // rejected cleanly
  }
  exercise_getters(*file);
  round_trip(*file);
  return 0;
}
