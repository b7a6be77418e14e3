// Jinja2's string and number filters, plus Hugging Face's tojson (json.dumps).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/builtins.h"
#include "chat/filters.h"
#include "chat/formatting.h"
#include "chat/interpreter.h"
#include "chat/json_dump.h"
#include "chat/operators.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

namespace {

// Jinja's soft_str(): str() of the value, '' for Undefined.
std::string text_of(Interpreter& interp, const Value& v) { return to_str(v, interp.max_string_bytes()); }

Value make_text(Interpreter& interp, std::string s) {
  interp.check_string_size(s.size());
  interp.charge(s.size());
  return Value::string(std::move(s));
}

const std::string& require_string(const Value& v, std::string_view filter) {
  if (v.is_undefined()) fail("{}", v.undefined_hint());
  if (!v.is_string()) fail("filter '{}' expects a string, got {}", filter, type_name(v));
  return v.as_string();
}

int64_t int_param(const Value& v, std::string_view what) {
  if (!v.is_int() && !v.is_bool()) fail("{} must be an integer, got {}", what, type_name(v));
  return v.to_int_exact();
}

Value f_lower(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("lower", a, {});
  return make_text(in, py_lower(text_of(in, v)));
}
Value f_upper(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("upper", a, {});
  return make_text(in, py_upper(text_of(in, v)));
}
Value f_capitalize(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("capitalize", a, {});
  return make_text(in, py_capitalize(text_of(in, v)));
}

// Jinja's title filter: upper-cases the first character after '-', whitespace or an opening
// bracket and lower-cases the rest (unlike Python's str.title()).
Value f_title(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("title", a, {});
  const auto is_sep = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_py_space(c); };
  std::string out;
  bool word_start = true;
  for (char32_t c : decode_utf8(text_of(in, v))) {
    if (is_sep(c)) {
      append_utf8(out, c);
      word_start = true;
    } else {
      append_utf8(out, word_start ? upper_cp(c) : lower_cp(c));
      word_start = false;
    }
  }
  return make_text(in, std::move(out));
}

Value f_trim(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("trim", a, {"chars"});
  CallArgs strip_args;
  if (b.has(0)) strip_args.positional.push_back(b.get(0));
  return call_method(in, Value::string(text_of(in, v)), "strip", strip_args);
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("replace", a, {"old", "new", "count"});
  const Value count = b.get_or(2, Value::none());
  return make_text(in, py_replace(text_of(in, v), text_of(in, b.get(0)), text_of(in, b.get(1)),
                                  count.is_none() ? -1 : int_param(count, "replace count"), in.max_string_bytes()));
}

Value f_center(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("center", a, {"width"});
  const int64_t width = int_param(b.get_or(0, Value::integer(80)), "center width");
  in.check_string_size(static_cast<size_t>(std::max<int64_t>(0, width)));
  return make_text(in, py_pad(require_string(v, "center"), "center", width, " "));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("indent", a, {"width", "first", "blank"});
  const Value width = b.get_or(0, Value::integer(4));
  std::string indention;
  if (width.is_string()) {
    indention = width.as_string();
  } else {
    const int64_t n = int_param(width, "indent width");
    in.check_string_size(static_cast<size_t>(std::max<int64_t>(0, n)));
    indention.assign(static_cast<size_t>(std::max<int64_t>(0, n)), ' ');
  }
  const bool first = truthy(b.get_or(1, Value::boolean(false)));
  const bool blank = truthy(b.get_or(2, Value::boolean(false)));
  CallArgs none;
  const Value lines_value = call_method(in, Value::string(require_string(v, "indent") + "\n"), "splitlines", none);
  const auto& lines = lines_value.as_list().items;
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i].as_string();
    if (i > 0) {
      out += "\n";
      if (blank || !line.empty()) out += indention;
    }
    out += line;
    in.check_string_size(out.size());
  }
  if (first) out = indention + out;
  return make_text(in, std::move(out));
}

Value f_truncate(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("truncate", a, {"length", "killwords", "end", "leeway"});
  const int64_t length = int_param(b.get_or(0, Value::integer(255)), "truncate length");
  const bool killwords = truthy(b.get_or(1, Value::boolean(false)));
  const std::string end = text_of(in, b.get_or(2, Value::string("...")));
  const Value leeway_v = b.get_or(3, Value::none());
  const int64_t leeway = leeway_v.is_none() ? 5 : int_param(leeway_v, "truncate leeway");
  const auto end_len = static_cast<int64_t>(count_code_points(end));
  if (length < end_len) fail("expected length >= {}, got {}", end_len, length);
  if (leeway < 0) fail("expected leeway >= 0, got {}", leeway);
  const std::u32string s = decode_utf8(text_of(in, v));
  if (static_cast<int64_t>(s.size()) <= length + leeway) return Value::string(encode_utf8(s));
  std::u32string head = s.substr(0, static_cast<size_t>(length - end_len));
  if (!killwords) {
    const size_t space = head.rfind(U' ');
    if (space != std::u32string::npos) head = head.substr(0, space);
  }
  return make_text(in, encode_utf8(head) + end);
}

Value f_wordcount(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("wordcount", a, {});
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : decode_utf8(text_of(in, v))) {
    const bool word = is_word_char(c);
    if (word && !in_word) ++words;
    in_word = word;
  }
  return Value::integer(words);
}

Value f_string(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("string", a, {});
  return make_text(in, text_of(in, v));
}

Value f_safe(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("safe", a, {});
  return v.is_string() ? v : make_text(in, text_of(in, v));
}

Value f_escape(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("escape", a, {});
  std::string out;
  for (char c : text_of(in, v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return make_text(in, std::move(out));
}

Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
  if (!a.positional.empty() && !a.keyword.empty()) {
    fail("can't handle positional and keyword arguments at the same time");
  }
  Value args;
  if (!a.keyword.empty()) {
    auto dict = std::make_shared<DictData>();
    for (auto& [k, val] : a.keyword) dict->set(Value::string(k), val);
    args = Value::dict(std::move(dict));
  } else {
    args = Value::tuple(a.positional);
  }
  return make_text(in, percent_format(in, text_of(in, v), args));
}

// Hugging Face's tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False) with the arguments in that order.
Value f_tojson(Interpreter& in, const Value& v, CallArgs& a) {
  BoundArgs b("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = truthy(b.get_or(0, Value::boolean(false)));
  const Value indent = b.get_or(1, Value::none());
  if (indent.is_string()) {
    options.indent = indent.as_string();
  } else if (!indent.is_none()) {
    const int64_t n = int_param(indent, "tojson indent");
    in.check_string_size(static_cast<size_t>(std::max<int64_t>(0, n)));
    options.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, n)), ' ');
  }
  const Value separators = b.get_or(2, Value::none());
  if (!separators.is_none()) {
    const std::vector<Value> parts = iterate(separators);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      fail("tojson separators must be a pair of strings");
    }
    options.item_separator = parts[0].as_string();
    options.key_separator = parts[1].as_string();
  }
  options.sort_keys = truthy(b.get_or(3, Value::boolean(false)));
  options.max_bytes = in.max_string_bytes();
  return make_text(in, dump_json(v, options));
}

// Python float(str): surrounding whitespace, sign, inf/nan, digits with single underscores.
std::optional<double> parse_py_float(std::string_view text) {
  const std::string s = py_lower(py_strip(text));
  std::string_view body = s;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) body.remove_prefix(1);
  if (body == "inf" || body == "infinity" || body == "nan") {
    const double v = body == "nan" ? NAN : INFINITY;
    return s[0] == '-' ? -v : v;
  }
  std::string clean;
  bool prev_digit = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= s.size() || !(s[i + 1] >= '0' && s[i + 1] <= '9')) return std::nullopt;
      continue;
    }
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == '+' || c == '-')) return std::nullopt;
    prev_digit = c >= '0' && c <= '9';
    clean.push_back(c);
  }
  if (clean.empty() || clean.find_first_of("0123456789") == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return v;
}

// Python int(str, base): whitespace, sign, optional 0x/0o/0b prefix, single underscores.
std::optional<int64_t> parse_py_int(std::string_view text, int64_t base) {
  std::string s(py_strip(text));
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.erase(0, 1);
  }
  if (s.size() >= 2 && s[0] == '0') {
    const char p = static_cast<char>(s[1] | 0x20);
    const int64_t prefix_base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      s.erase(0, 2);
      if (!s.empty() && s[0] == '_') s.erase(0, 1);
    }
  }
  if (base == 0) base = 10;
  if (base < 2 || base > 36) fail("int() base must be >= 2 and <= 36, or 0");
  if (s.empty() || s.front() == '_' || s.back() == '_' || s.find("__") != std::string::npos) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (c == '_') continue;
    const int digit = (c >= '0' && c <= '9') ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
    if (digit >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, static_cast<uint64_t>(base), &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(digit), &value) || value > (uint64_t{1} << 63)) {
      fail("integer '{}' does not fit in 64 bits", text);
    }
  }
  if (!negative && value == (uint64_t{1} << 63)) fail("integer '{}' does not fit in 64 bits", text);
  return negative ? static_cast<int64_t>(0 - value) : static_cast<int64_t>(value);
}

std::optional<int64_t> float_to_int(double d) {
  if (std::isnan(d)) return std::nullopt;
  if (std::isinf(d)) fail("cannot convert float infinity to integer");
  if (std::fabs(d) >= 9.2e18) fail("float {} does not fit in a 64-bit integer", py_float_repr(d));
  return static_cast<int64_t>(std::trunc(d));
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("int", a, {"default", "base"});
  const Value fallback = b.get_or(0, Value::integer(0));
  const int64_t base = int_param(b.get_or(1, Value::integer(10)), "int base");
  std::optional<int64_t> result;
  switch (v.kind()) {
    case Value::Kind::Undefined: fail("{}", v.undefined_hint());
    case Value::Kind::Bool:
    case Value::Kind::Int: return Value::integer(v.to_int_exact());
    case Value::Kind::Float: result = float_to_int(v.as_float()); break;
    case Value::Kind::String:
      result = parse_py_int(v.as_string(), base);
      if (!result) {
        if (auto d = parse_py_float(v.as_string())) result = float_to_int(*d);
      }
      break;
    default: break;
  }
  return result ? Value::integer(*result) : fallback;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("float", a, {"default"});
  switch (v.kind()) {
    case Value::Kind::Undefined: fail("{}", v.undefined_hint());
    case Value::Kind::Bool:
    case Value::Kind::Int:
    case Value::Kind::Float: return Value::number(v.to_double());
    case Value::Kind::String:
      if (auto d = parse_py_float(v.as_string())) return Value::number(*d);
      break;
    default: break;
  }
  return b.get_or(0, Value::number(0.0));
}

Value f_abs(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("abs", a, {});
  if (v.is_float()) return Value::number(std::fabs(v.as_float()));
  if (v.is_int() || v.is_bool()) {
    const int64_t i = v.to_int_exact();
    if (i == INT64_MIN) fail("integer overflow in abs()");
    return Value::integer(i < 0 ? -i : i);
  }
  fail("bad operand type for abs(): '{}'", type_name(v));
}

// Python round(x, n): correctly rounded, ties to even (glibc printf rounds the same way).
double py_round(double x, int64_t digits) {
  if (!std::isfinite(x) || digits > 300) return x;
  if (digits < -308) return std::copysign(0.0, x);
  if (digits >= 0) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
    return std::strtod(buf, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(x / scale) * scale;
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("round", a, {"precision", "method"});
  const int64_t precision = int_param(b.get_or(0, Value::integer(0)), "round precision");
  const Value method = b.get_or(1, Value::string("common"));
  if (!method.is_string() || (method.as_string() != "common" && method.as_string() != "ceil" &&
                              method.as_string() != "floor")) {
    fail("method must be common, ceil or floor");
  }
  if (v.is_undefined()) fail("{}", v.undefined_hint());
  if (!v.is_number()) fail("type {} doesn't define __round__ method", type_name(v));
  const std::string& how = method.as_string();
  if (how == "common") {
    if (!v.is_float() && precision >= 0) return Value::integer(v.to_int_exact());
    return Value::number(py_round(v.to_double(), precision));
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.to_double() * scale;
  return Value::number((how == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
  BoundArgs b("default", a, {"default_value", "boolean"});
  const bool boolean = truthy(b.get_or(1, Value::boolean(false)));
  if (v.is_undefined() || (boolean && !truthy(v))) return b.get_or(0, Value::string(""));
  return v;
}

constexpr FilterEntry kTextFilters[] = {
    {"abs", f_abs},           {"capitalize", f_capitalize}, {"center", f_center},   {"d", f_default},
    {"default", f_default},   {"e", f_escape},              {"escape", f_escape},   {"float", f_float},
    {"forceescape", f_escape}, {"format", f_format},        {"indent", f_indent},   {"int", f_int},
    {"lower", f_lower},       {"replace", f_replace},       {"round", f_round},     {"safe", f_safe},
    {"string", f_string},     {"title", f_title},           {"tojson", f_tojson},   {"trim", f_trim},
    {"truncate", f_truncate}, {"upper", f_upper},           {"wordcount", f_wordcount},
};

}  // namespace

FilterFn find_text_filter(std::string_view name) {
  for (const auto& entry : kTextFilters) {
    if (entry.name == name) return entry.fn;
  }
  return nullptr;
}

}  // namespace edgellm::chat::jinja
