// Methods of str, list/tuple and dict values, with Python's semantics (code-point indices,
// whitespace splitting rules, ValueError on missing items).
#include <algorithm>

#include "chat/builtins.h"
#include "chat/formatting.h"
#include "chat/interpreter.h"
#include "chat/operators.h"
#include "chat/text.h"
#include "chat/value.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

const std::string& string_arg(const Value& v, std::string_view method) {
  if (!v.is_string()) fail("{}() argument must be str, not {}", method, type_name(v));
  return v.as_string();
}

int64_t int_arg(const Value& v, std::string_view method) {
  if (!v.is_int() && !v.is_bool()) fail("{}() argument must be an integer, not {}", method, type_name(v));
  return v.to_int_exact();
}

// Code-point index of byte offset `pos` in `s`.
int64_t cp_index(const std::string& s, size_t pos) {
  return static_cast<int64_t>(count_code_points(std::string_view(s).substr(0, pos)));
}

std::vector<Value> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  const std::u32string cps = decode_utf8(s);
  std::vector<std::u32string> parts;
  if (!from_right) {
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_py_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(cps.substr(i));  // the remainder keeps its trailing whitespace
        break;
      }
      size_t j = i;
      while (j < cps.size() && !is_py_space(cps[j])) ++j;
      parts.push_back(cps.substr(i, j - i));
      i = j;
    }
  } else {
    size_t end = cps.size();
    while (end > 0) {
      while (end > 0 && is_py_space(cps[end - 1])) --end;
      if (end == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(cps.substr(0, end));  // the remainder keeps its leading whitespace
        break;
      }
      size_t j = end;
      while (j > 0 && !is_py_space(cps[j - 1])) --j;
      parts.push_back(cps.substr(j, end - j));
      end = j;
    }
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> out;
  for (const auto& p : parts) out.push_back(Value::string(encode_utf8(p)));
  return out;
}

std::vector<Value> split_on(const std::string& s, const std::string& sep, int64_t maxsplit, bool from_right) {
  if (sep.empty()) fail("empty separator");
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    for (;;) {
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
      const size_t at = s.find(sep, start);
      if (at == std::string::npos) break;
      parts.push_back(s.substr(start, at - start));
      start = at + sep.size();
    }
    parts.push_back(s.substr(start));
  } else {
    size_t end = s.size();
    for (;;) {
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) break;
      if (end < sep.size()) break;
      const size_t at = s.rfind(sep, end - sep.size());
      if (at == std::string::npos) break;
      parts.push_back(s.substr(at + sep.size(), end - at - sep.size()));
      end = at;
    }
    parts.push_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<Value> out;
  for (auto& p : parts) out.push_back(Value::string(std::move(p)));
  return out;
}

bool is_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

std::vector<Value> split_lines(std::string_view s, bool keep_ends) {
  const std::u32string cps = decode_utf8(s);
  std::vector<Value> out;
  size_t start = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (!is_line_break(cps[i])) continue;
    size_t end = i + 1;
    if (cps[i] == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') end = i + 2;
    out.push_back(Value::string(encode_utf8(cps.substr(start, (keep_ends ? end : i) - start))));
    start = end;
    i = end - 1;
  }
  if (start < cps.size()) out.push_back(Value::string(encode_utf8(cps.substr(start))));
  return out;
}

std::string strip_chars(const std::string& s, const Value& chars, bool left, bool right) {
  if (chars.is_none()) {
    if (left && right) return std::string(py_strip(s));
    return std::string(left ? py_lstrip(s) : py_rstrip(s));
  }
  const std::u32string set = decode_utf8(string_arg(chars, "strip"));
  const std::u32string cps = decode_utf8(s);
  size_t begin = 0;
  size_t end = cps.size();
  const auto in_set = [&](char32_t c) { return set.find(c) != std::u32string::npos; };
  if (left) {
    while (begin < end && in_set(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && in_set(cps[end - 1])) --end;
  }
  return encode_utf8(cps.substr(begin, end - begin));
}

bool matches_affix(const std::string& s, const Value& affix, bool prefix, std::string_view method) {
  const auto test = [&](const Value& v) {
    const std::string& a = string_arg(v, method);
    if (a.size() > s.size()) return false;
    return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_tuple()) {
    return std::any_of(affix.as_list().items.begin(), affix.as_list().items.end(), test);
  }
  return test(affix);
}

Value string_method(Interpreter& interp, const std::string& s, std::string_view name, CallArgs& args) {
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "swapcase" ||
      name == "casefold") {
    BoundArgs bound(name, args, {});
    if (name == "upper") return Value::string(py_upper(s));
    if (name == "lower" || name == "casefold") return Value::string(py_lower(s));
    if (name == "title") return Value::string(py_title(s));
    if (name == "capitalize") return Value::string(py_capitalize(s));
    std::string out;
    for (char32_t c : decode_utf8(s)) append_utf8(out, lower_cp(c) != c ? lower_cp(c) : upper_cp(c));
    return Value::string(std::move(out));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    BoundArgs bound(name, args, {"chars"});
    return Value::string(strip_chars(s, bound.get_or(0, Value::none()), name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    BoundArgs bound(name, args, {"sep", "maxsplit"});
    const Value sep = bound.get_or(0, Value::none());
    const int64_t maxsplit = int_arg(bound.get_or(1, Value::integer(-1)), name);
    const bool right = name == "rsplit";
    interp.charge(s.size());
    if (sep.is_none()) return Value::list(split_whitespace(s, maxsplit, right));
    return Value::list(split_on(s, string_arg(sep, name), maxsplit, right));
  }
  if (name == "splitlines") {
    BoundArgs bound(name, args, {"keepends"});
    interp.charge(s.size());
    return Value::list(split_lines(s, truthy(bound.get_or(0, Value::boolean(false)))));
  }
  if (name == "startswith" || name == "endswith") {
    BoundArgs bound(name, args, {"affix"});
    return Value::boolean(matches_affix(s, bound.get(0), name == "startswith", name));
  }
  if (name == "replace") {
    BoundArgs bound(name, args, {"old", "new", "count"});
    const int64_t count = int_arg(bound.get_or(2, Value::integer(-1)), name);
    std::string out = py_replace(s, string_arg(bound.get(0), name), string_arg(bound.get(1), name), count,
                                 interp.max_string_bytes());
    interp.charge(out.size());
    return Value::string(std::move(out));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    BoundArgs bound(name, args, {"sub"});
    const std::string& sub = string_arg(bound.get(0), name);
    if (name == "count") {
      if (sub.empty()) return Value::integer(static_cast<int64_t>(count_code_points(s)) + 1);
      int64_t n = 0;
      for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
      return Value::integer(n);
    }
    const bool right = name[0] == 'r';
    const size_t at = right ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) {
      if (name == "index" || name == "rindex") fail("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(cp_index(s, at));
  }
  if (name == "join") {
    BoundArgs bound(name, args, {"iterable"});
    std::string out;
    const std::vector<Value> items = iterate(bound.get(0));
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) {
        fail("sequence item {}: expected str instance, {} found", i, type_name(items[i]));
      }
      if (i > 0) out += s;
      out += items[i].as_string();
      interp.check_string_size(out.size());
    }
    interp.charge(out.size());
    return Value::string(std::move(out));
  }
  if (name == "format") {
    std::string out = str_format(interp, s, args);
    interp.charge(out.size());
    return Value::string(std::move(out));
  }
  if (name.substr(0, 2) == "is") {
    BoundArgs bound(name, args, {});
    return Value::boolean(py_is_class(s, name));
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    BoundArgs bound(name, args, {"width", "fillchar"});
    const int64_t width = int_arg(bound.get(0), name);
    interp.check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)));
    const std::string fill = name == "zfill" ? "0" : string_arg(bound.get_or(1, Value::string(" ")), name);
    if (count_code_points(fill) != 1) fail("The fill character must be exactly one character long");
    return Value::string(py_pad(s, name, width, fill));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    BoundArgs bound(name, args, {"affix"});
    const std::string& a = string_arg(bound.get(0), name);
    if (!matches_affix(s, bound.get(0), name == "removeprefix", name)) return Value::string(s);
    return Value::string(name == "removeprefix" ? s.substr(a.size()) : s.substr(0, s.size() - a.size()));
  }
  if (name == "partition" || name == "rpartition") {
    BoundArgs bound(name, args, {"sep"});
    const std::string& sep = string_arg(bound.get(0), name);
    if (sep.empty()) fail("empty separator");
    const bool right = name == "rpartition";
    const size_t at = right ? s.rfind(sep) : s.find(sep);
    if (at == std::string::npos) {
      return right ? Value::tuple({Value::string(""), Value::string(""), Value::string(s)})
                   : Value::tuple({Value::string(s), Value::string(""), Value::string("")});
    }
    return Value::tuple({Value::string(s.substr(0, at)), Value::string(sep), Value::string(s.substr(at + sep.size()))});
  }
  fail("'str' object has no attribute '{}'", name);
}

Value sequence_method(Interpreter& interp, const Value& receiver, std::string_view name, CallArgs& args) {
  const auto& items = receiver.as_list().items;
  if (name == "index" || name == "count") {
    BoundArgs bound(name, args, {"value"});
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!values_equal(items[i], bound.get(0))) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") fail("{} is not in list", repr(bound.get(0)));
    return Value::integer(n);
  }
  if (name == "copy") {
    BoundArgs bound(name, args, {});
    interp.charge_items(items.size());
    return Value::list(items);
  }
  // pop() and clear() are not on the sandbox's list of mutating methods, so templates may
  // use them; they change the list in place as Python does.
  auto& mutable_items = receiver.mutable_list().items;
  if (name == "clear") {
    BoundArgs bound(name, args, {});
    mutable_items.clear();
    return Value::none();
  }
  if (name == "pop") {
    BoundArgs bound(name, args, {"index"});
    if (mutable_items.empty()) fail("pop from empty list");
    const auto n = static_cast<int64_t>(mutable_items.size());
    int64_t i = int_arg(bound.get_or(0, Value::integer(-1)), name);
    if (i < 0) i += n;
    if (i < 0 || i >= n) fail("pop index out of range");
    Value out = mutable_items[static_cast<size_t>(i)];
    mutable_items.erase(mutable_items.begin() + i);
    return out;
  }
  fail("'{}' object has no attribute '{}'", type_name(receiver), name);
}

Value dict_method(Interpreter& interp, const DictData& dict, std::string_view name, CallArgs& args) {
  if (name == "get") {
    BoundArgs bound(name, args, {"key", "default"});
    const Value& key = bound.get(0);
    if (!is_hashable(key)) fail("unhashable type: '{}'", type_name(key));
    const Value* found = dict.find(key);
    return found != nullptr ? *found : bound.get_or(1, Value::none());
  }
  BoundArgs bound(name, args, {});
  interp.charge_items(dict.size());
  std::vector<Value> out;
  out.reserve(dict.size());
  if (name == "copy") {
    return Value::dict(std::make_shared<DictData>(dict));
  }
  for (const auto& [key, value] : dict.entries) {
    if (name == "items") {
      out.push_back(Value::tuple({key, value}));
    } else {
      out.push_back(name == "keys" ? key : value);
    }
  }
  return Value::list(std::move(out));
}

}  // namespace

Value call_method(Interpreter& interp, const Value& receiver, std::string_view name, CallArgs& args) {
  if (receiver.is_string()) return string_method(interp, receiver.as_string(), name, args);
  if (receiver.is_list_like()) return sequence_method(interp, receiver, name, args);
  if (receiver.is_dict()) return dict_method(interp, receiver.as_dict(), name, args);
  fail("'{}' object has no method '{}'", type_name(receiver), name);
}

}  // namespace edgellm::chat::jinja
