#include "tokenizer/spm.h"

#include <queue>

#include <fmt/format.h>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace edgellm::tok {

SpmEncoder::SpmEncoder(const Vocab& vocab, const TokenIndex& index) : vocab_(&vocab), index_(&index) {
  for (int b = 0; b < 256; ++b) {
    const auto it = index.find(fmt::format("<0x{:02X}>", b));
    byte_token_[b] = it == index.end() ? -1 : it->second;
  }
}

int32_t SpmEncoder::mergeable_token(std::string_view text) const {
  const auto it = index_->find(text);
  if (it == index_->end()) return -1;
  switch (vocab_->types[it->second]) {
    case TokenType::kControl:
    case TokenType::kUnknown:
    case TokenType::kByte:
      return -1;
    default:
      return it->second;
  }
}

void SpmEncoder::emit_fallback(std::string_view text, std::vector<int32_t>& out,
                               bool& previous_was_unknown) const {
  for (const char c : text) {
    const int32_t id = byte_token_[static_cast<uint8_t>(c)];
    if (id < 0) {
      // No byte tokens: like Hugging Face (fuse_unk), one unknown token per run of unknown text.
      if (vocab_->unk_id < 0) {
        fail("text contains {:?}, which the vocabulary can represent neither as a token, a byte "
             "token nor the unknown token", text);
      }
      if (!previous_was_unknown) out.push_back(vocab_->unk_id);
      previous_was_unknown = true;
      return;
    }
    out.push_back(id);
  }
  previous_was_unknown = false;
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  struct Symbol {
    uint32_t offset, length;
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = std::min(unicode::utf8_sequence_length(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(n), index - 1,
                       pos + n < text.size() ? index + 1 : -1});
    pos += n;
  }

  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t length;
  };
  const auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower_priority)> queue(lower_priority);
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t length = symbols[left].length + symbols[right].length;
    const int32_t id = mergeable_token(text.substr(symbols[left].offset, length));
    if (id >= 0) queue.push({vocab_->scores[id], left, right, length});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = symbols[b.left];
    Symbol& right = symbols[b.right];
    // Stale: one side was merged into something else since this pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  bool previous_was_unknown = false;
  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
    const int32_t id = mergeable_token(piece);
    if (id >= 0) {
      out.push_back(id);
      previous_was_unknown = false;
    } else {
      emit_fallback(piece, out, previous_was_unknown);
    }
  }
}

}  // namespace edgellm::tok
