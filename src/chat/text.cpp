#include "chat/text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

namespace edgellm::chat::jinja {

namespace {

constexpr char32_t kEscapedByteBase = 0xDC00;  // invalid byte b decodes to 0xDC00 + b

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is malformed.
size_t valid_sequence_length(std::string_view text, size_t i, char32_t& cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t len = 0;
  char32_t min_value = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min_value = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min_value = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min_value = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

struct CaseRange {
  char32_t first_upper, last_upper;
  int32_t delta;  // lower = upper + delta
};

// Contiguous blocks where lower = upper + delta.
constexpr CaseRange kOffsetRanges[] = {
    {0x41, 0x5A, 32},    {0xC0, 0xD6, 32},    {0xD8, 0xDE, 32},    {0x391, 0x3A1, 32},
    {0x3A3, 0x3AB, 32},  {0x388, 0x38A, 37},  {0x38E, 0x38F, 63},  {0x410, 0x42F, 32},
    {0x400, 0x40F, 80},
};

// Blocks of alternating pairs: upper on even (or odd) code points, lower right after.
struct PairRange {
  char32_t first, last;  // first is an upper-case letter
};
constexpr PairRange kPairRanges[] = {
    {0x100, 0x12F}, {0x132, 0x137}, {0x139, 0x148}, {0x14A, 0x177}, {0x179, 0x17E},
    {0x460, 0x481}, {0x48A, 0x4BF}, {0x4C1, 0x4CE}, {0x4D0, 0x52F},
};

struct SinglePair {
  char32_t upper, lower;
};
constexpr SinglePair kSinglePairs[] = {
    {0x178, 0xFF}, {0x386, 0x3AC}, {0x38C, 0x3CC}, {0x4C0, 0x4CF}, {0x130, 0x69},
};
// Lower-case letters whose upper case is not the simple inverse of the tables above.
constexpr SinglePair kExtraUpper[] = {
    {0x39C, 0xB5}, {0x3A3, 0x3C2}, {0x49, 0x131}, {0x53, 0x17F},
};

bool is_non_printable(char32_t cp) {
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0xA0) || cp == 0xAD) return true;
  if (cp == 0x61C || cp == 0x1680 || cp == 0x180E) return true;
  if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F)) return true;
  if ((cp >= 0x205F && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206F)) return true;
  if (cp == 0x3000 || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB)) return true;
  if (cp == 0xFFFE || cp == 0xFFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return true;
  if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000) return true;
  return cp == 0xE0001 || (cp >= 0xE0020 && cp <= 0xE007F);
}

template <typename Predicate>
std::string_view trim_view(std::string_view text, bool left, bool right, Predicate is_space) {
  size_t begin = 0;
  size_t end = text.size();
  if (left) {
    while (begin < end) {
      char32_t cp = 0;
      size_t len = valid_sequence_length(text, begin, cp);
      if (len == 0 || !is_space(cp)) break;
      begin += len;
    }
  }
  if (right) {
    while (end > begin) {
      // Walk back to the start of the last code point.
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      char32_t cp = 0;
      size_t len = valid_sequence_length(text, start, cp);
      if (len != end - start || !is_space(cp)) break;
      end = start;
    }
  }
  return text.substr(begin, end - begin);
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    size_t len = valid_sequence_length(text, i, cp);
    if (len == 0) {
      out.push_back(kEscapedByteBase + static_cast<unsigned char>(text[i]));
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp >= kEscapedByteBase + 0x80 && cp <= kEscapedByteBase + 0xFF) {
    out.push_back(static_cast<char>(cp - kEscapedByteBase));
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

size_t count_code_points(std::string_view text) {
  if (is_ascii(text)) return text.size();
  return decode_utf8(text).size();
}

size_t find_invalid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    size_t len = valid_sequence_length(text, i, cp);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

bool is_py_space(char32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp < 0x80) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string_view py_rstrip(std::string_view text) { return trim_view(text, false, true, is_py_space); }
std::string_view py_lstrip(std::string_view text) { return trim_view(text, true, false, is_py_space); }
std::string_view py_strip(std::string_view text) { return trim_view(text, true, true, is_py_space); }

char32_t lower_cp(char32_t cp) {
  for (const auto& r : kOffsetRanges) {
    if (cp >= r.first_upper && cp <= r.last_upper) return static_cast<char32_t>(cp + r.delta);
  }
  for (const auto& r : kPairRanges) {
    if (cp >= r.first && cp <= r.last && ((cp - r.first) % 2 == 0)) return cp + 1;
  }
  for (const auto& p : kSinglePairs) {
    if (cp == p.upper) return p.lower;
  }
  return cp;
}

char32_t upper_cp(char32_t cp) {
  for (const auto& r : kOffsetRanges) {
    const char32_t first_lower = static_cast<char32_t>(r.first_upper + r.delta);
    const char32_t last_lower = static_cast<char32_t>(r.last_upper + r.delta);
    if (cp >= first_lower && cp <= last_lower) return static_cast<char32_t>(cp - r.delta);
  }
  for (const auto& r : kPairRanges) {
    if (cp > r.first && cp <= r.last + 1 && ((cp - r.first) % 2 == 1)) return cp - 1;
  }
  for (const auto& p : kSinglePairs) {
    if (cp == p.lower && p.upper != 0x130) return p.upper;
  }
  for (const auto& p : kExtraUpper) {
    if (cp == p.lower) return p.upper;
  }
  return cp;
}

bool is_cased_letter(char32_t cp) { return lower_cp(cp) != cp || upper_cp(cp) != cp || cp == 0xDF; }

bool is_word_char(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           cp == '_';
  }
  if (cp <= 0xBF) {
    return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
           (cp >= 0xBC && cp <= 0xBE);
  }
  if (cp == 0xD7 || cp == 0xF7 || is_py_space(cp) || is_non_printable(cp)) return false;
  if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // punctuation, symbols, arrows, math
  if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
  if ((cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F)) return false;
  if ((cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40)) return false;
  if (cp >= 0xFF5B && cp <= 0xFF65) return false;
  return !(cp >= 0x1F000 && cp <= 0x1FAFF);  // emoji and pictographs
}

std::string py_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (is_ascii(text)) {
    for (char c : text) out.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
    return out;
  }
  for (char32_t cp : decode_utf8(text)) {
    if (cp == 0xDF) {
      out += "SS";  // German sharp s has no single upper-case letter
    } else if (cp == 0x149) {
      out += "\xCA\xBCN";  // U+0149 upper-cases to U+02BC U+004E
    } else {
      append_utf8(out, upper_cp(cp));
    }
  }
  return out;
}

std::string py_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  if (is_ascii(text)) {
    for (char c : text) out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
    return out;
  }
  const std::u32string cps = decode_utf8(text);
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    if (cp == 0x3A3) {
      // Python applies the final-sigma rule: a capital sigma that ends a word lowers to ς.
      const bool after_letter = i > 0 && is_cased_letter(cps[i - 1]);
      const bool before_letter = i + 1 < cps.size() && is_cased_letter(cps[i + 1]);
      append_utf8(out, after_letter && !before_letter ? 0x3C2 : 0x3C3);
    } else if (cp == 0x130) {
      out += "i\xCC\x87";  // U+0130 lower-cases to 'i' + combining dot above
    } else {
      append_utf8(out, lower_cp(cp));
    }
  }
  return out;
}

std::string py_repr_string(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back(quote);
  for (char32_t cp : decode_utf8(text)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (is_non_printable(cp)) {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      } else {
        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      append_utf8(out, cp);
    }
  }
  out.push_back(quote);
  return out;
}

std::string py_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  if (result.ec != std::errc()) return "nan";  // cannot happen for finite doubles
  std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));
  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  if (exponent < -4 || exponent >= 16) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp_buf;
    return out;
  }
  if (exponent < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
    return out;
  }
  const size_t int_digits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= int_digits) {
    out += digits;
    out.append(int_digits - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, int_digits);
    out.push_back('.');
    out.append(digits, int_digits);
  }
  return out;
}

}  // namespace edgellm::chat::jinja
