// Splits text around special-token text before tokenization. Control and unknown tokens are
// recognised only when parse_special is set; user-defined (added, non-special) tokens always,
// as in Hugging Face and llama.cpp. Longer tokens take precedence: tokens are tried from the
// longest down, each taking its leftmost non-overlapping occurrences in the text left over.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace edgellm::tok {

struct Fragment {
  size_t offset;
  size_t length;
  int32_t token;  // -1: raw text to tokenize; otherwise a special token
};

class SpecialTokenSplitter {
 public:
  // `types` are the effective token types (after end-of-generation tokens were made control).
  SpecialTokenSplitter(const Vocab& vocab, const std::vector<TokenType>& types);

  void split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 private:
  struct Candidate {
    int32_t id;
    std::string_view text;  // points into the vocabulary
    bool needs_parse_special;
  };
  std::vector<Candidate> candidates_;  // longest first
  std::unordered_map<std::string_view, uint32_t> by_text_;  // -> index in candidates_
  // The distinct lengths of the candidates starting with each byte: a text position is checked
  // with one hash lookup per length (vocabularies can have thousands of added tokens).
  std::array<std::vector<uint32_t>, 256> lengths_by_first_byte_;
};

}  // namespace edgellm::tok
