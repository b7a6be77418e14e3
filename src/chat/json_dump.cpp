#include "chat/json_dump.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

void append_hex_escape(std::string& out, unsigned unit) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\u%04x", unit & 0xFFFFu);
  out += buf;
}

void append_json_string(std::string& out, std::string_view text, bool ensure_ascii) {
  out.push_back('"');
  for (char32_t cp : decode_utf8(text)) {
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {
        const char32_t v = cp - 0x10000;
        append_hex_escape(out, 0xD800 + (v >> 10));
        append_hex_escape(out, 0xDC00 + (v & 0x3FF));
      } else {
        append_hex_escape(out, cp);
      }
    } else {
      append_utf8(out, cp);
    }
  }
  out.push_back('"');
}

std::string float_json(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f < 0 ? "-Infinity" : "Infinity";
  return py_float_repr(f);
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonDumpOptions& options) : options_(options) {
    item_sep_ = options.item_separator.value_or(options.indent ? "," : ", ");
    key_sep_ = options.key_separator.value_or(": ");
  }

  void write(const Value& v, size_t level) {
    if (out_.size() > options_.max_bytes) {
      fail("tojson output exceeds the {} byte limit", options_.max_bytes);
    }
    switch (v.kind()) {
      case Value::Kind::None: out_ += "null"; return;
      case Value::Kind::Bool: out_ += v.as_bool() ? "true" : "false"; return;
      case Value::Kind::Int: out_ += std::to_string(v.as_int()); return;
      case Value::Kind::Float: out_ += float_json(v.as_float()); return;
      case Value::Kind::String: append_json_string(out_, v.as_string(), options_.ensure_ascii); return;
      case Value::Kind::List: write_list(v.as_list().items, level); return;
      case Value::Kind::Dict: write_dict(v.as_dict(), level); return;
      default: fail("Object of type {} is not JSON serializable", type_name(v));
    }
  }

  std::string take() {
    if (out_.size() > options_.max_bytes) {
      fail("tojson output exceeds the {} byte limit", options_.max_bytes);
    }
    return std::move(out_);
  }

 private:
  void newline(size_t level) {
    out_.push_back('\n');
    for (size_t i = 0; i < level; ++i) out_ += *options_.indent;
  }

  void write_list(const std::vector<Value>& items, size_t level) {
    if (items.empty()) {
      out_ += "[]";
      return;
    }
    out_.push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += item_sep_;
      if (options_.indent) newline(level + 1);
      write(items[i], level + 1);
    }
    if (options_.indent) newline(level);
    out_.push_back(']');
  }

  static std::string key_text(const Value& key) {
    switch (key.kind()) {
      case Value::Kind::String: return key.as_string();
      case Value::Kind::None: return "null";
      case Value::Kind::Bool: return key.as_bool() ? "true" : "false";
      case Value::Kind::Int: return std::to_string(key.as_int());
      case Value::Kind::Float: return float_json(key.as_float());
      default: fail("keys must be str, int, float, bool or None, not {}", type_name(key));
    }
  }

  void write_dict(const DictData& dict, size_t level) {
    if (dict.size() == 0) {
      out_ += "{}";
      return;
    }
    std::vector<const std::pair<Value, Value>*> entries;
    entries.reserve(dict.size());
    for (const auto& entry : dict.entries) entries.push_back(&entry);
    if (options_.sort_keys) {
      std::stable_sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
        return compare_values(a->first, b->first) < 0;
      });
    }
    out_.push_back('{');
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out_ += item_sep_;
      if (options_.indent) newline(level + 1);
      append_json_string(out_, key_text(entries[i]->first), options_.ensure_ascii);
      out_ += key_sep_;
      write(entries[i]->second, level + 1);
    }
    if (options_.indent) newline(level);
    out_.push_back('}');
  }

  const JsonDumpOptions& options_;
  std::string item_sep_;
  std::string key_sep_;
  std::string out_;
};

}  // namespace

std::string dump_json(const Value& value, const JsonDumpOptions& options) {
  JsonWriter writer(options);
  writer.write(value, 0);
  return writer.take();
}

}  // namespace edgellm::chat::jinja
