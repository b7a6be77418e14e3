// SentencePiece-style BPE ("llama" vocabularies): the text (spaces already escaped to U+2581) is
// split into UTF-8 characters; repeatedly the adjacent pair whose concatenation is a token with
// the highest score is merged (leftmost on ties). Characters that never became tokens are
// emitted as byte tokens <0xNN> (byte fallback), or as the unknown token when those are absent.
//
// Speed: where two adjacent characters occur next to each other in no token, no merge can ever
// cross between them, so the text is cut there and the pieces are merged independently (and
// repeated pieces are looked up instead of merged again). The result is identical.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/vocab.h"

namespace edgellm::tok {

class SpmEncoder {
 public:
  SpmEncoder(const Vocab& vocab, const TokenIndex& index);

  void encode(std::string_view escaped_text, std::vector<int32_t>& out) const;

 private:
  struct Scratch;
  // A token that merging may produce (control, unknown and byte tokens never are: their text is
  // not text the model saw, e.g. "<s>" or "<0x41>").
  int32_t mergeable_token(std::string_view text) const;
  // starts_unknown (optional): set when the first character fell back to the unknown token.
  void encode_segment(std::string_view segment, std::vector<int32_t>& out, bool& previous_was_unknown,
                      Scratch& scratch, bool* starts_unknown = nullptr) const;
  void emit_fallback(std::string_view text, std::vector<int32_t>& out, bool& previous_was_unknown) const;

  const Vocab* vocab_;
  const TokenIndex* index_;
  std::array<int32_t, 256> byte_token_{};
  // Pairs of adjacent characters that occur inside some mergeable token (key: packed bytes).
  MergeTable inner_pairs_;
  // Integer lookups instead of hashing text while merging: the token of each single character
  // (key: 0, packed bytes; the packed bytes in the low half, where MergeTable hashes well), and
  // for every way to cut a mergeable token into two mergeable tokens
  // (left id, right id) -> that token. Merging two symbols that are tokens needs one probe.
  MergeTable char_tokens_;
  MergeTable token_pairs_;
};

}  // namespace edgellm::tok
