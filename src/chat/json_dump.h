// Python's json.dumps for interpreter values, byte for byte: Hugging Face replaces Jinja's
// tojson filter with json.dumps(x, ensure_ascii=False, indent=..., separators=...,
// sort_keys=...), and templates print tool schemas and arguments through it.
#pragma once

#include <optional>
#include <string>

#include "chat/value.h"

namespace edgellm::chat::jinja {

struct JsonDumpOptions {
  std::optional<std::string> indent;  // nullopt: single line; else the per-level indent string
  std::optional<std::string> item_separator;  // default ", " (single line) or "," (indented)
  std::optional<std::string> key_separator;   // default ": "
  bool sort_keys = false;
  bool ensure_ascii = false;
  size_t max_bytes = static_cast<size_t>(-1);  // longer output throws edgellm::Error
};

// Throws edgellm::Error for values JSON cannot represent (Undefined, objects, bad keys).
std::string dump_json(const Value& value, const JsonDumpOptions& options);

}  // namespace edgellm::chat::jinja
