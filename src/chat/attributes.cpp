// Attribute, item and slice access with the sandbox's rules (see builtins.h).
#include <algorithm>
#include <array>

#include "chat/builtins.h"
#include "chat/objects.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

constexpr std::array kStringMethods = {
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "index", "isalnum",
    "isalpha", "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper",
    "join", "ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace",
    "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "upper", "zfill",
};
constexpr std::array kListMethods = {"clear", "copy", "count", "index", "pop"};
constexpr std::array kTupleMethods = {"count", "index"};
constexpr std::array kDictMethods = {"copy", "get", "items", "keys", "values"};
// Methods ImmutableSandboxedEnvironment refuses because they modify the container.
constexpr std::array kUnsafeListMethods = {"append", "extend", "insert", "remove", "reverse", "sort"};
constexpr std::array kUnsafeDictMethods = {"clear", "pop", "popitem", "setdefault", "update"};

template <size_t N>
bool listed(const std::array<const char*, N>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
}

Value unsafe(const Value& obj, std::string_view name) {
  return Value::undefined(fmt::format("access to attribute '{}' of '{}' object is unsafe.", name, type_name(obj)));
}

Value no_attribute(const Value& obj, std::string_view name) {
  const std::string owner = obj.is_none() ? "None" : type_name(obj) + " object";
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", owner, name));
}

Value no_element(const Value& obj, const Value& key) {
  const std::string owner = obj.is_none() ? "None" : type_name(obj) + " object";
  return Value::undefined(fmt::format("{} has no element {}", owner, repr(key)));
}

// getattr() on plain values: methods of str/list/tuple/dict, or nullopt.
std::optional<Value> method_attribute(const Value& obj, std::string_view name) {
  const auto bound = [&] { return Value::object(std::make_shared<BoundMethod>(obj, std::string(name))); };
  switch (obj.kind()) {
    case Value::Kind::String:
      if (listed(kStringMethods, name)) return bound();
      break;
    case Value::Kind::List:
      if (obj.is_tuple()) {
        if (listed(kTupleMethods, name)) return bound();
      } else {
        if (listed(kListMethods, name)) return bound();
        if (listed(kUnsafeListMethods, name)) return unsafe(obj, name);
      }
      break;
    case Value::Kind::Dict:
      if (listed(kDictMethods, name)) return bound();
      if (listed(kUnsafeDictMethods, name)) return unsafe(obj, name);
      break;
    default: break;
  }
  return std::nullopt;
}

// Python's slice.indices(): clamps start/stop for a sequence of `len` items.
struct SliceBounds {
  int64_t start, stop, step;
};

SliceBounds resolve_slice(int64_t len, const Value& start_v, const Value& stop_v, const Value& step_v) {
  const auto as_index = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) {
      if (v.is_undefined()) fail("{}", v.undefined_hint());
      fail("slice indices must be integers or None, not {}", type_name(v));
    }
    return v.to_int_exact();
  };
  const int64_t step = as_index(step_v).value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  const auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v;
    if (i < 0) {
      i = i < -len ? (step < 0 ? -1 : 0) : i + len;
    } else if (i >= len) {
      i = step < 0 ? len - 1 : len;
    }
    return i;
  };
  return {clamp(as_index(start_v), step < 0 ? len - 1 : 0), clamp(as_index(stop_v), step < 0 ? -1 : len), step};
}

template <typename Emit>
void for_slice(const SliceBounds& b, Emit emit) {
  for (int64_t i = b.start; b.step > 0 ? i < b.stop : i > b.stop;) {
    emit(static_cast<size_t>(i));
    if (__builtin_add_overflow(i, b.step, &i)) break;
  }
}

}  // namespace

Value get_attribute(const Value& obj, std::string_view name) {
  if (obj.is_undefined()) fail("{}", obj.undefined_hint());
  if (auto method = method_attribute(obj, name)) return *method;
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().find(name)) return *v;
  } else if (obj.is_tuple() && obj.as_list().field_names != nullptr) {
    const auto& fields = *obj.as_list().field_names;
    for (size_t i = 0; i < fields.size() && i < obj.as_list().items.size(); ++i) {
      if (fields[i] == name) return obj.as_list().items[i];
    }
  } else if (obj.is_object()) {
    if (auto v = obj.as_object().attribute(name)) return *v;
  }
  return no_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case Value::Kind::Undefined: fail("{}", obj.undefined_hint());
    case Value::Kind::Dict:
      if (is_hashable(key)) {
        if (const Value* v = obj.as_dict().find(key)) return *v;
      }
      break;
    case Value::Kind::List:
    case Value::Kind::String:
      if (key.is_int() || key.is_bool()) {
        int64_t i = key.to_int_exact();
        if (obj.is_list_like()) {
          const auto n = static_cast<int64_t>(obj.as_list().items.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return obj.as_list().items[static_cast<size_t>(i)];
          return no_element(obj, key);
        }
        const std::string& s = obj.as_string();
        if (is_ascii(s)) {
          const auto n = static_cast<int64_t>(s.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return Value::string(std::string(1, s[static_cast<size_t>(i)]));
        } else {
          const std::u32string cps = decode_utf8(s);
          const auto n = static_cast<int64_t>(cps.size());
          if (i < 0) i += n;
          if (i >= 0 && i < n) return Value::string(encode_utf8(cps.substr(static_cast<size_t>(i), 1)));
        }
        return no_element(obj, key);
      }
      break;
    case Value::Kind::Object:
      if (key.is_string()) {
        if (auto v = obj.as_object().attribute(key.as_string())) return *v;
      }
      break;
    default: break;
  }
  // Like the sandbox, a failed item lookup with a string key falls back to attributes.
  if (key.is_string()) {
    if (auto method = method_attribute(obj, key.as_string())) return *method;
    return no_attribute(obj, key.as_string());
  }
  return no_element(obj, key);
}

Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_list_like()) {
    const auto& items = obj.as_list().items;
    const SliceBounds b = resolve_slice(static_cast<int64_t>(items.size()), start, stop, step);
    std::vector<Value> out;
    for_slice(b, [&](size_t i) { out.push_back(items[i]); });
    return obj.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
  }
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    std::string out;
    if (is_ascii(s)) {
      const SliceBounds b = resolve_slice(static_cast<int64_t>(s.size()), start, stop, step);
      for_slice(b, [&](size_t i) { out.push_back(s[i]); });
    } else {
      const std::u32string cps = decode_utf8(s);
      const SliceBounds b = resolve_slice(static_cast<int64_t>(cps.size()), start, stop, step);
      for_slice(b, [&](size_t i) { append_utf8(out, cps[i]); });
    }
    return Value::string(std::move(out));
  }
  if (obj.is_undefined()) fail("{}", obj.undefined_hint());
  fail("'{}' object is not subscriptable", type_name(obj));
}

// --- argument binding ---------------------------------------------------------------------

BoundArgs::BoundArgs(std::string_view callee, CallArgs& args, std::initializer_list<std::string_view> params)
    : callee_(callee), names_(params), values_(params.size()) {
  if (args.positional.size() > names_.size()) {
    fail("{}() takes at most {} argument(s) ({} given)", callee_, names_.size(), args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) values_[i] = std::move(args.positional[i]);
  for (auto& [name, value] : args.keyword) {
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) fail("{}() got an unexpected keyword argument '{}'", callee_, name);
    auto& slot = values_[static_cast<size_t>(it - names_.begin())];
    if (slot) fail("{}() got multiple values for argument '{}'", callee_, name);
    slot = std::move(value);
  }
}

const Value& BoundArgs::get(size_t i) const {
  if (!values_[i]) fail("{}() missing required argument '{}'", callee_, names_[i]);
  return *values_[i];
}

}  // namespace edgellm::chat::jinja
