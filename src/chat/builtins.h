// Built-in filters, tests, methods and global functions of the chat-template environment:
// Jinja2's defaults plus what Hugging Face adds (tojson as json.dumps, raise_exception,
// strftime_now), restricted the way ImmutableSandboxedEnvironment restricts them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace edgellm::chat::jinja {

FilterFn find_filter(std::string_view name);  // nullptr when unknown
TestFn find_test(std::string_view name);

// Attribute lookup on plain values the way the sandbox does it: methods first
// (e.g. dict.items), then items; mutating list/dict methods yield an "unsafe" Undefined.
Value get_attribute(const Value& obj, std::string_view name);
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);

// Calls str/list/dict method `name` on `receiver`.
Value call_method(Interpreter& interp, const Value& receiver, std::string_view name, CallArgs& args);

// The global functions every render starts with: range, dict, namespace, cycler, joiner,
// raise_exception, strftime_now.
std::vector<std::pair<std::string, Value>> make_globals();

// Binds call arguments to parameter names like a Python signature (no *args/**kwargs).
// Throws for unknown keywords, too many positionals, or a parameter given twice.
class BoundArgs {
 public:
  BoundArgs(std::string_view callee, CallArgs& args, std::initializer_list<std::string_view> params);
  bool has(size_t i) const { return values_[i].has_value(); }
  const Value& get(size_t i) const;  // throws when missing
  Value get_or(size_t i, Value fallback) const { return has(i) ? *values_[i] : std::move(fallback); }

 private:
  std::string callee_;
  std::vector<std::string_view> names_;
  std::vector<std::optional<Value>> values_;
};

}  // namespace edgellm::chat::jinja
