#include "chat/lexer.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "chat/text.h"
#include "core/error.h"

namespace edgellm::chat::jinja {

SourceMap::SourceMap(std::string_view source) : source_(source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\n') line_starts_.push_back(i + 1);
  }
}

int SourceMap::line(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  return static_cast<int>(it - line_starts_.begin());
}

int SourceMap::column(size_t offset) const {
  const size_t start = line_starts_[static_cast<size_t>(line(offset) - 1)];
  offset = std::min(offset, source_.size());
  return static_cast<int>(count_code_points(source_.substr(start, offset - start))) + 1;
}

std::string SourceMap::describe(size_t offset) const {
  return "line " + std::to_string(line(offset)) + ", column " + std::to_string(column(offset));
}

std::string normalize_template_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

namespace {

enum class TagKind { Variable, Block, Comment };

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

class Lexer {
 public:
  Lexer(std::string_view src, const SourceMap& map) : src_(src), map_(map) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    push(TokenType::Eof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error_at(size_t offset, std::string_view what) const {
    fail("template syntax error at {}: {}", map_.describe(offset), what);
  }

  void push(TokenType type, std::string value, size_t offset) {
    Token token;
    token.type = type;
    token.value = std::move(value);
    token.offset = offset;
    tokens_.push_back(std::move(token));
  }

  bool starts_with(size_t at, std::string_view s) const {
    return at <= src_.size() && src_.substr(at, s.size()) == s;
  }

  // Skips Python whitespace (\s) starting at `at`; returns the new offset.
  size_t skip_space(size_t at) const {
    while (at < src_.size()) {
      const unsigned char c = static_cast<unsigned char>(src_[at]);
      if (c < 0x80) {
        if (!is_py_space(c)) break;
        ++at;
        continue;
      }
      const size_t len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : 2;
      const std::u32string cp = decode_utf8(src_.substr(at, len));
      if (cp.size() != 1 || !is_py_space(cp[0])) break;
      at += len;
    }
    return at;
  }

  // Applies {%- / lstrip_blocks to the text that precedes a tag.
  std::string_view strip_before_tag(std::string_view text, char sign, bool lstrip_applies) const {
    if (sign == '-') return py_rstrip(text);
    if (sign == '+' || !lstrip_applies) return text;
    const size_t nl = text.rfind('\n');
    const size_t line_begin = nl == std::string_view::npos ? 0 : nl + 1;
    if (line_begin == 0 && !line_starting_) return text;
    const std::string_view tail = text.substr(line_begin);
    if (!tail.empty() && py_strip(tail).empty()) return text.substr(0, line_begin);
    return text;
  }

  // Consumes a tag end at `at` of length `end_len` preceded by an optional sign; applies
  // -%} (strip all whitespace) or trim_blocks (drop one newline) and updates line_starting_.
  size_t finish_tag_end(size_t after, char sign, bool trim_newline) {
    if (sign == '-') {
      after = skip_space(after);
    } else if (sign != '+' && trim_newline && after < src_.size() && src_[after] == '\n') {
      ++after;
    }
    line_starting_ = after > 0 && src_[after - 1] == '\n';
    return after;
  }

  void lex_root() {
    size_t tag = pos_;
    TagKind kind = TagKind::Variable;
    for (;; ++tag) {
      tag = src_.find('{', tag);
      if (tag == std::string_view::npos || tag + 1 >= src_.size()) {
        push(TokenType::Data, std::string(src_.substr(pos_)), pos_);
        pos_ = src_.size();
        return;
      }
      const char next = src_[tag + 1];
      if (next == '{' || next == '%' || next == '#') {
        kind = next == '{' ? TagKind::Variable : next == '%' ? TagKind::Block : TagKind::Comment;
        break;
      }
    }
    size_t after = tag + 2;
    const char sign = (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) ? src_[after] : 0;
    if (sign) ++after;

    size_t raw_body = 0;
    char raw_end_sign = 0;
    const bool is_raw = kind == TagKind::Block && match_raw_begin(after, raw_body, raw_end_sign);

    const std::string_view text = strip_before_tag(src_.substr(pos_, tag - pos_), sign,
                                                   kind != TagKind::Variable);
    if (!text.empty()) push(TokenType::Data, std::string(text), pos_);

    if (is_raw) {
      pos_ = raw_end_sign == '-' ? skip_space(raw_body) : raw_body;
      line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
      lex_raw_body(tag);
    } else if (kind == TagKind::Comment) {
      lex_comment(tag, after);
    } else {
      line_starting_ = false;
      lex_tag(tag, after, kind);
    }
  }

  // Recognizes "{% raw %}" (with optional signs/whitespace); `at` is just after "{%" and sign.
  bool match_raw_begin(size_t at, size_t& body, char& end_sign) const {
    at = skip_space(at);
    if (!starts_with(at, "raw")) return false;
    at = skip_space(at + 3);
    if (starts_with(at, "-%}")) {
      end_sign = '-';
      body = at + 3;
      return true;
    }
    if (starts_with(at, "%}")) {
      body = at + 2;
      return true;
    }
    return false;
  }

  void lex_raw_body(size_t raw_tag) {
    for (size_t search = pos_;; ++search) {
      search = src_.find("{%", search);
      if (search == std::string_view::npos) error_at(raw_tag, "missing end of raw directive ({% endraw %})");
      size_t at = search + 2;
      const char sign = (at < src_.size() && (src_[at] == '-' || src_[at] == '+')) ? src_[at] : 0;
      if (sign) ++at;
      at = skip_space(at);
      if (!starts_with(at, "endraw")) continue;
      at = skip_space(at + 6);
      char end_sign = 0;
      if (at < src_.size() && (src_[at] == '-' || src_[at] == '+')) end_sign = src_[at++];
      if (!starts_with(at, "%}")) continue;
      const std::string_view text = strip_before_tag(src_.substr(pos_, search - pos_), sign, true);
      if (!text.empty()) push(TokenType::Data, std::string(text), pos_);
      pos_ = finish_tag_end(at + 2, end_sign, true);
      return;
    }
  }

  void lex_comment(size_t tag, size_t content) {
    const size_t end = src_.find("#}", content);
    if (end == std::string_view::npos) error_at(tag, "missing end of comment tag '#}'");
    const char sign = (end > content && (src_[end - 1] == '-' || src_[end - 1] == '+')) ? src_[end - 1] : 0;
    pos_ = finish_tag_end(end + 2, sign, true);
  }

  void lex_tag(size_t tag, size_t at, TagKind kind) {
    push(kind == TagKind::Block ? TokenType::BlockBegin : TokenType::VariableBegin, "", tag);
    std::vector<char> balance;  // closing brackets we still expect
    const std::string_view closer = kind == TagKind::Block ? "%}" : "}}";
    for (;;) {
      if (at >= src_.size()) {
        error_at(tag, kind == TagKind::Block ? "unexpected end of template: '{%' tag is never closed with '%}'"
                                             : "unexpected end of template: '{{' is never closed with '}}'");
      }
      if (balance.empty()) {
        char sign = 0;
        size_t end = at;
        if ((src_[at] == '-' || (src_[at] == '+' && kind == TagKind::Block)) && starts_with(at + 1, closer)) {
          sign = src_[at];
          end = at + 1;
        }
        if (starts_with(end, closer)) {
          push(kind == TagKind::Block ? TokenType::BlockEnd : TokenType::VariableEnd, "", at);
          pos_ = finish_tag_end(end + 2, sign, kind == TagKind::Block);
          return;
        }
      }
      const size_t skipped = skip_space(at);
      if (skipped != at) {
        at = skipped;
        continue;
      }
      at = lex_expression_token(at, balance);
    }
  }

  // Scans digits with single underscores between them ("1_000"); returns the end offset.
  size_t scan_digits(size_t at) const {
    if (at >= src_.size() || !is_digit(src_[at])) return at;
    size_t end = at + 1;
    while (end < src_.size()) {
      if (is_digit(src_[end])) {
        ++end;
      } else if (src_[end] == '_' && end + 1 < src_.size() && is_digit(src_[end + 1])) {
        end += 2;
      } else {
        break;
      }
    }
    return end;
  }

  static std::string without_underscores(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c != '_') out.push_back(c);
    }
    return out;
  }

  size_t lex_number(size_t at) {
    // Prefixed integers: 0x.., 0o.., 0b..
    if (src_[at] == '0' && at + 2 < src_.size()) {
      const char p = static_cast<char>(src_[at + 1] | 0x20);
      const int base = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
      if (base != 0) {
        size_t end = at + 2;
        std::string digits;
        while (end < src_.size()) {
          const char c = src_[end];
          const bool ok = base == 16 ? is_hex(c) : base == 8 ? (c >= '0' && c <= '7') : (c == '0' || c == '1');
          if (ok) {
            digits.push_back(c);
          } else if (c != '_') {
            break;
          }
          ++end;
        }
        if (!digits.empty()) {
          push_integer(digits, base, at);
          return end;
        }
      }
    }
    const size_t int_end = scan_digits(at);
    size_t end = int_end;
    bool is_float = false;
    const bool after_dot = at > 0 && src_[at - 1] == '.';
    if (!after_dot) {
      if (end < src_.size() && src_[end] == '.' && end + 1 < src_.size() && is_digit(src_[end + 1])) {
        end = scan_digits(end + 1);
        is_float = true;
      }
      if (end < src_.size() && (src_[end] | 0x20) == 'e') {
        size_t exp = end + 1;
        if (exp < src_.size() && (src_[exp] == '+' || src_[exp] == '-')) ++exp;
        const size_t exp_end = scan_digits(exp);
        if (exp_end != exp) {
          end = exp_end;
          is_float = true;
        }
      }
    }
    if (!is_float) {
      push_integer(without_underscores(src_.substr(at, int_end - at)), 10, at);
      return int_end;
    }
    Token token;
    token.type = TokenType::Float;
    token.offset = at;
    token.value = without_underscores(src_.substr(at, end - at));
    token.float_value = std::strtod(token.value.c_str(), nullptr);
    tokens_.push_back(std::move(token));
    return end;
  }

  void push_integer(const std::string& digits, int base, size_t at) {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(digits.c_str(), &end, base);
    if (errno == ERANGE) error_at(at, "integer literal is too large (limit is 64-bit)");
    Token token;
    token.type = TokenType::Integer;
    token.offset = at;
    token.value = digits;
    token.int_value = v;
    tokens_.push_back(std::move(token));
  }

  size_t lex_expression_token(size_t at, std::vector<char>& balance) {
    const char c = src_[at];
    if (is_digit(c)) return lex_number(at);
    if (is_name_start(c)) {
      size_t end = at + 1;
      while (end < src_.size() && is_name_char(src_[end])) ++end;
      push(TokenType::Name, std::string(src_.substr(at, end - at)), at);
      return end;
    }
    if (c == '\'' || c == '"') return lex_string(at);
    static constexpr std::string_view kTwoCharOps[] = {"//", "**", "==", "!=", ">=", "<="};
    for (std::string_view op : kTwoCharOps) {
      if (starts_with(at, op)) {
        push(TokenType::Operator, std::string(op), at);
        return at + 2;
      }
    }
    static constexpr std::string_view kOneCharOps = "+-/*%~[](){}><=.:|,;";
    if (kOneCharOps.find(c) == std::string_view::npos) {
      const std::u32string cp = decode_utf8(src_.substr(at, 4));
      std::string shown;
      append_utf8(shown, cp.empty() ? U'?' : cp[0]);
      error_at(at, "unexpected character '" + shown + "'");
    }
    if (c == '(' || c == '[' || c == '{') {
      balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) error_at(at, std::string("unexpected '") + c + "'");
      if (balance.back() != c) {
        error_at(at, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      }
      balance.pop_back();
    }
    push(TokenType::Operator, std::string(1, c), at);
    return at + 1;
  }

  size_t lex_string(size_t at) {
    const char quote = src_[at];
    size_t end = at + 1;
    while (end < src_.size() && src_[end] != quote) end += src_[end] == '\\' ? 2 : 1;
    if (end >= src_.size()) error_at(at, "unterminated string literal");
    Token token;
    token.type = TokenType::String;
    token.offset = at;
    token.value = unescape(src_.substr(at + 1, end - at - 1), at);
    tokens_.push_back(std::move(token));
    return end + 1;
  }

  // Python's unicode_escape decoding, as Jinja applies it to string literals.
  std::string unescape(std::string_view raw, size_t at) const {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\' || i + 1 >= raw.size()) {
        out.push_back(raw[i]);
        continue;
      }
      const char e = raw[++i];
      switch (e) {
        case '\n': break;  // line continuation
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          const std::string_view hex = raw.substr(i + 1, width);
          if (hex.size() != width || !std::all_of(hex.begin(), hex.end(), is_hex)) {
            error_at(at, std::string("truncated \\") + e + " escape in string literal");
          }
          const unsigned long cp = std::strtoul(std::string(hex).c_str(), nullptr, 16);
          if (cp > 0x10FFFF) error_at(at, "\\U escape beyond U+10FFFF in string literal");
          append_utf8(out, static_cast<char32_t>(cp));
          i += width;
          break;
        }
        case 'N': error_at(at, "\\N{...} escapes are not supported in string literals");
        default:
          if (e >= '0' && e <= '7') {
            unsigned cp = static_cast<unsigned>(e - '0');
            for (int k = 0; k < 2 && i + 1 < raw.size() && raw[i + 1] >= '0' && raw[i + 1] <= '7'; ++k) {
              cp = cp * 8 + static_cast<unsigned>(raw[++i] - '0');
            }
            append_utf8(out, cp);
          } else if (static_cast<unsigned char>(e) >= 0x80) {
            // Jinja escapes non-ASCII text as \xNN/\uNNNN before decoding, so a backslash
            // in front of such a character leaves that escape text behind.
            const std::u32string cps = decode_utf8(raw.substr(i, 4));
            const char32_t cp = cps.empty() ? U'?' : cps[0];
            char buf[16];
            std::snprintf(buf, sizeof buf, cp < 0x100 ? "\\x%02x" : cp < 0x10000 ? "\\u%04x" : "\\U%08x",
                          static_cast<unsigned>(cp));
            out += buf;
            std::string encoded;
            append_utf8(encoded, cp);
            i += encoded.size() - 1;
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    return out;
  }

  std::string_view src_;
  const SourceMap& map_;
  size_t pos_ = 0;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const SourceMap& map) {
  return Lexer(source, map).run();
}

}  // namespace edgellm::chat::jinja
