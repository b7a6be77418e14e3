// Tokenizer for Jinja templates, configured like Hugging Face's chat-template environment:
// trim_blocks and lstrip_blocks on, newlines normalized to "\n", one trailing newline dropped,
// {%- -%} {{- -}} {#- -#} strip whitespace, {%+ and +%} turn lstrip/trim off for one tag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgellm::chat::jinja {

enum class TokenType : uint8_t {
  Data,           // literal template text
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,         // value holds the unescaped text
  Integer,
  Float,
  Operator,       // value holds the operator text, e.g. "//" or "("
  Eof,
};

struct Token {
  TokenType type = TokenType::Eof;
  std::string value;
  size_t offset = 0;  // byte offset in the normalized source, for error positions
  int64_t int_value = 0;
  double float_value = 0.0;
};

// Maps byte offsets to 1-based line and column (columns count code points).
class SourceMap {
 public:
  explicit SourceMap(std::string_view source);
  int line(size_t offset) const;
  int column(size_t offset) const;
  std::string describe(size_t offset) const;  // "line 3, column 7"

 private:
  std::string_view source_;
  std::vector<size_t> line_starts_;
};

// Newline normalization and trailing-newline removal, as Jinja does before lexing.
std::string normalize_template_source(std::string_view source);

// Tokenizes normalized source. Throws edgellm::Error naming line and column on bad input.
std::vector<Token> tokenize(std::string_view source, const SourceMap& map);

}  // namespace edgellm::chat::jinja
