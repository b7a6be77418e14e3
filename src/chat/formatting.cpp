#include "chat/formatting.h"

#include <cmath>
#include <cstdio>

#include "chat/interpreter.h"
#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

std::string py_title(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (char32_t c : decode_utf8(s)) {
    const bool cased = is_cased_letter(c);
    append_utf8(out, cased ? (previous_cased ? lower_cp(c) : upper_cp(c)) : c);
    previous_cased = cased;
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  const std::u32string cps = decode_utf8(s);
  if (cps.empty()) return {};
  std::string out;
  append_utf8(out, upper_cp(cps[0]));
  out += py_lower(encode_utf8(std::u32string_view(cps).substr(1)));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count,
                       size_t max_bytes) {
  std::string out;
  const auto check = [&] {
    if (out.size() > max_bytes) fail("replace() result exceeds the {} byte limit", max_bytes);
  };
  if (old.empty()) {
    // Python inserts the replacement before every character and at the end.
    const std::u32string cps = decode_utf8(s);
    int64_t done = 0;
    for (char32_t c : cps) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      append_utf8(out, c);
      check();
    }
    if (count < 0 || done < count) out += repl;
    check();
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start));
    out.append(repl);
    check();
    start = at + old.size();
    ++done;
  }
  out.append(s.substr(start));
  check();
  return out;
}

bool py_is_class(std::string_view s, std::string_view method) {
  const std::u32string cps = decode_utf8(s);
  const auto is_digit = [](char32_t c) { return c >= '0' && c <= '9'; };
  const auto is_alpha = [&](char32_t c) { return is_word_char(c) && !is_digit(c) && c != '_'; };
  const auto all = [&](auto pred) {
    if (cps.empty()) return false;
    for (char32_t c : cps) {
      if (!pred(c)) return false;
    }
    return true;
  };
  if (method == "isdigit" || method == "isdecimal" || method == "isnumeric") return all(is_digit);
  if (method == "isalpha") return all(is_alpha);
  if (method == "isalnum") return all([&](char32_t c) { return is_alpha(c) || is_digit(c); });
  if (method == "isspace") return all(is_py_space);
  bool any_cased = false;
  bool previous_cased = false;
  bool title_ok = true;
  for (char32_t c : cps) {
    const bool upper = lower_cp(c) != c;
    const bool lower = upper_cp(c) != c || c == 0xDF;
    if (method == "islower" && upper) return false;
    if (method == "isupper" && lower) return false;
    if ((upper && previous_cased) || (lower && !previous_cased)) title_ok = false;
    any_cased = any_cased || upper || lower;
    previous_cased = upper || lower;
  }
  if (method == "istitle") return any_cased && title_ok;
  if (method == "islower" || method == "isupper") return any_cased;
  fail("'str' object has no attribute '{}'", method);
}

std::string py_pad(std::string_view s, std::string_view method, int64_t width, std::string_view fill) {
  const auto len = static_cast<int64_t>(count_code_points(s));
  if (width <= len) return std::string(s);
  const int64_t margin = width - len;
  const auto repeat = [&](int64_t n) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += fill;
    return out;
  };
  if (method == "ljust") return std::string(s) + repeat(margin);
  if (method == "rjust") return repeat(margin) + std::string(s);
  if (method == "zfill") {
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) return s[0] + repeat(margin) + std::string(s.substr(1));
    return repeat(margin) + std::string(s);
  }
  const int64_t left = margin / 2 + (margin & width & 1);  // CPython's centering rule
  return repeat(left) + std::string(s) + repeat(margin - left);
}

namespace {

struct Spec {
  std::string fill = " ";
  char align = 0;
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int64_t width = -1;
  char grouping = 0;
  int64_t precision = -1;
  char type = 0;
};

int64_t parse_number(std::string_view s, size_t& i) {
  int64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    n = n * 10 + (s[i++] - '0');
    if (n > 100000000) fail("format width or precision is too big");
  }
  return n;
}

Spec parse_spec(std::string_view text) {
  Spec spec;
  const std::u32string cps = decode_utf8(text);
  const auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '=' || c == '^'; };
  size_t skip_bytes = 0;
  if (cps.size() >= 2 && is_align(cps[1])) {
    spec.fill = encode_utf8(cps.substr(0, 1));
    spec.align = static_cast<char>(cps[1]);
    skip_bytes = spec.fill.size() + 1;
  } else if (!cps.empty() && is_align(cps[0])) {
    spec.align = static_cast<char>(cps[0]);
    skip_bytes = 1;
  }
  std::string_view s = text.substr(skip_bytes);
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) spec.sign = s[i++];
  if (i < s.size() && s[i] == '#') spec.alternate = true, ++i;
  if (i < s.size() && s[i] == '0') spec.zero = true, ++i;
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') spec.width = parse_number(s, i);
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) spec.grouping = s[i++];
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || s[i] < '0' || s[i] > '9') fail("format specifier missing precision");
    spec.precision = parse_number(s, i);
  }
  if (i < s.size()) spec.type = s[i++];
  if (i != s.size()) fail("invalid format specifier '{}'", text);
  return spec;
}

std::string group_digits(const std::string& digits, char sep) {
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(sep);
    out.push_back(digits[i]);
  }
  return out;
}

std::string to_base(uint64_t v, int base, bool upper) {
  if (v == 0) return "0";
  std::string out;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  while (v > 0) {
    out.insert(out.begin(), digits[v % static_cast<uint64_t>(base)]);
    v /= static_cast<uint64_t>(base);
  }
  return out;
}

std::string c_float(double v, char type, int64_t precision) {
  char fmtbuf[16];
  std::snprintf(fmtbuf, sizeof fmtbuf, "%%.%lld%c", static_cast<long long>(precision), type);
  const int n = std::snprintf(nullptr, 0, fmtbuf, v);
  std::string out(static_cast<size_t>(n), '\0');
  std::snprintf(out.data(), out.size() + 1, fmtbuf, v);
  return out;
}

// Pads `body` (with sign/prefix already split off into `prefix`) to the spec's width.
std::string align_field(const std::string& prefix, const std::string& body, const Spec& spec, char default_align) {
  const int64_t len = static_cast<int64_t>(count_code_points(prefix) + count_code_points(body));
  char align = spec.align ? spec.align : (spec.zero ? '=' : default_align);
  std::string fill = spec.align ? spec.fill : (spec.zero ? "0" : " ");
  if (spec.width <= len) return prefix + body;
  const int64_t margin = spec.width - len;
  const auto repeat = [&](int64_t n) {
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += fill;
    return out;
  };
  switch (align) {
    case '<': return prefix + body + repeat(margin);
    case '^': return repeat(margin / 2) + prefix + body + repeat(margin - margin / 2);
    case '=': return prefix + repeat(margin) + body;
    default: return repeat(margin) + prefix + body;
  }
}

}  // namespace

std::string format_with_spec(const Value& v, std::string_view spec_text) {
  if (spec_text.empty()) return to_str(v);
  const Spec spec = parse_spec(spec_text);
  if (v.is_string() || v.is_none() || v.is_list_like() || v.is_dict() || v.is_undefined()) {
    if (spec.type != 0 && spec.type != 's') fail("unknown format code '{}' for object of type '{}'", spec.type, type_name(v));
    std::string text = to_str(v);
    if (spec.precision >= 0) {
      const std::u32string cps = decode_utf8(text);
      if (static_cast<int64_t>(cps.size()) > spec.precision) text = encode_utf8(cps.substr(0, static_cast<size_t>(spec.precision)));
    }
    return align_field("", text, spec, '<');
  }
  if (!v.is_number()) fail("cannot format a '{}' object with a format spec", type_name(v));
  const bool as_int = (v.is_int() || v.is_bool()) &&
                      (spec.type == 0 || spec.type == 'd' || spec.type == 'n' || spec.type == 'x' ||
                       spec.type == 'X' || spec.type == 'o' || spec.type == 'b' || spec.type == 'c');
  char sign = 0;
  std::string body;
  if (as_int) {
    const int64_t i = v.to_int_exact();
    if (spec.type == 'c') return align_field("", encode_utf8(std::u32string(1, static_cast<char32_t>(i))), spec, '<');
    const uint64_t mag = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
    const int base = spec.type == 'x' || spec.type == 'X' ? 16 : spec.type == 'o' ? 8 : spec.type == 'b' ? 2 : 10;
    body = to_base(mag, base, spec.type == 'X');
    if (spec.grouping) body = group_digits(body, spec.grouping);
    if (spec.alternate && base != 10) {
      std::string prefix = "0";
      prefix.push_back(base == 16 ? spec.type : base == 8 ? 'o' : 'b');
      body.insert(0, prefix);
    }
    if (i < 0) sign = '-';
  } else {
    const double d = v.to_double();
    const double mag = std::fabs(d);
    const char type = spec.type;
    if (std::isnan(d) || std::isinf(d)) {
      body = std::isnan(d) ? "nan" : "inf";
    } else if (type == 0 && spec.precision < 0) {
      body = py_float_repr(mag);
    } else if (type == '%') {
      body = c_float(mag * 100, 'f', spec.precision < 0 ? 6 : spec.precision) + "%";
    } else if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G') {
      body = c_float(mag, type, spec.precision < 0 ? 6 : spec.precision);
    } else if (type == 0 || type == 'n') {
      body = c_float(mag, 'g', spec.precision == 0 ? 1 : spec.precision);
      if (type == 0 && body.find_first_of(".e") == std::string::npos) body += ".0";
    } else {
      fail("unknown format code '{}' for object of type 'float'", type);
    }
    if (spec.grouping) {
      const size_t int_end = body.find_first_not_of("0123456789");
      std::string grouped = group_digits(body.substr(0, int_end), spec.grouping);
      if (int_end != std::string::npos) grouped.append(body, int_end);
      body = std::move(grouped);
    }
    if (std::signbit(d) && !std::isnan(d)) sign = '-';
  }
  if (sign == 0 && spec.sign != '-') sign = spec.sign;
  return align_field(sign == 0 ? std::string() : std::string(1, sign), body, spec, '>');
}

std::string str_format(Interpreter& interp, std::string_view fmt, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false;
  bool used_manual = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      fail("single '}}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string_view::npos) fail("single '{{' encountered in format string");
    std::string_view field = fmt.substr(i + 1, close - i - 1);
    i = close;
    std::string_view spec;
    char conversion = 0;
    if (const size_t colon = field.find(':'); colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
      if (bang + 2 != field.size()) fail("invalid conversion in format string");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    Value value;
    if (field.empty() || (field[0] >= '0' && field[0] <= '9')) {
      size_t index = auto_index;
      if (field.empty()) {
        if (used_manual) fail("cannot switch from manual field specification to automatic field numbering");
        used_auto = true;
        ++auto_index;
      } else {
        if (used_auto) fail("cannot switch from automatic field numbering to manual field specification");
        used_manual = true;
        size_t k = 0;
        index = static_cast<size_t>(parse_number(field, k));
        if (k != field.size()) fail("unsupported format field '{}'", field);
      }
      if (index >= args.positional.size()) fail("Replacement index {} out of range for positional args tuple", index);
      value = args.positional[index];
    } else {
      bool found = false;
      for (const auto& [name, v] : args.keyword) {
        if (name == field) value = v, found = true;
      }
      if (!found) fail("format field '{}' was not given", field);
    }
    std::string text;
    if (conversion == 'r' || conversion == 'a') {
      text = format_with_spec(Value::string(repr(value)), spec);
    } else if (conversion == 's') {
      text = format_with_spec(Value::string(to_str(value)), spec);
    } else if (conversion != 0) {
      fail("unknown conversion specifier {}", conversion);
    } else {
      text = format_with_spec(value, spec);
    }
    out += text;
    interp.check_string_size(out.size());
  }
  return out;
}

std::string percent_format(Interpreter& interp, std::string_view fmt, const Value& args) {
  std::vector<Value> positional;
  const bool mapping = args.is_dict();
  if (args.is_tuple()) {
    positional = args.as_list().items;
  } else if (!mapping) {
    positional.push_back(args);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out.push_back(fmt[i]);
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format");
    Value value;
    bool have_value = false;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string_view::npos) fail("incomplete format key");
      if (!mapping) fail("format requires a mapping");
      const Value* found = args.as_dict().find(fmt.substr(i + 1, close - i - 1));
      if (found == nullptr) fail("KeyError: '{}'", fmt.substr(i + 1, close - i - 1));
      value = *found;
      have_value = true;
      i = close + 1;
    }
    Spec spec;
    spec.align = '>';
    for (; i < fmt.size(); ++i) {
      const char f = fmt[i];
      if (f == '-') spec.align = '<';
      else if (f == '0') spec.zero = true;
      else if (f == '+' || f == ' ') spec.sign = (spec.sign == '+' ? '+' : f);
      else if (f == '#') spec.alternate = true;
      else break;
    }
    if (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9') spec.width = parse_number(fmt, i);
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      spec.precision = parse_number(fmt, i);
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) fail("incomplete format");
    const char type = fmt[i];
    if (type == '%') {
      out.push_back('%');
      continue;
    }
    if (!have_value) {
      if (next >= positional.size()) fail("not enough arguments for format string");
      value = positional[next++];
    }
    if (spec.zero && spec.align != '<') {
      spec.fill.assign(1, '0');
      spec.align = '=';
    }
    if (spec.align == '>' && !spec.zero) spec.align = 0;  // numbers right-align by default
    std::string text;
    if (type == 's' || type == 'r' || type == 'a') {
      std::string str_spec(1, spec.align == '<' ? '<' : '>');
      if (spec.width >= 0) str_spec.append(std::to_string(spec.width));
      if (spec.precision >= 0) {
        str_spec.push_back('.');
        str_spec.append(std::to_string(spec.precision));
      }
      text = format_with_spec(Value::string(type == 's' ? to_str(value) : repr(value)), str_spec);
    } else {
      Value number = value;
      if (!value.is_number()) fail("%{} format: a real number is required, not {}", type, type_name(value));
      char spec_type = type;
      if (type == 'd' || type == 'i' || type == 'u') {
        spec_type = 'd';
        if (value.is_float()) number = Value::integer(static_cast<int64_t>(std::trunc(value.as_float())));
      } else if (type == 'x' || type == 'X' || type == 'o') {
        if (!value.is_int() && !value.is_bool()) fail("%{} format: an integer is required, not {}", type, type_name(value));
      } else if (type == 'c') {
        spec_type = 'c';
      } else if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G') {
        number = Value::number(value.to_double());
      } else {
        fail("unsupported format character '{}'", type);
      }
      std::string s;
      if (spec.align) s += spec.fill + std::string(1, spec.align);
      if (spec.sign != '-') s += spec.sign;
      if (spec.alternate) s += '#';
      if (spec.width >= 0) s += std::to_string(spec.width);
      if (spec.precision >= 0 && spec_type != 'd') s += "." + std::to_string(spec.precision);
      s += spec_type;
      text = format_with_spec(number, s);
    }
    out += text;
    interp.check_string_size(out.size());
  }
  if (!mapping && next < positional.size()) fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace edgellm::chat::jinja
