#include "tokenizer/spm.h"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace edgellm::tok {

namespace {

// Length of the character at pos; an invalid byte is a character of its own (so it can never
// swallow the start of an escaped space that follows it).
size_t char_length(std::string_view text, size_t pos) {
  size_t length = 0;
  unicode::decode_utf8(text, pos, &length);
  return length;
}

// The bytes of one character (at most 4) as an integer; unique because single bytes, 2-, 3- and
// 4-byte sequences occupy disjoint ranges.
int32_t pack_char(std::string_view text, size_t pos, size_t length) {
  uint32_t packed = 0;
  for (size_t i = 0; i < length; ++i) packed = (packed << 8) | static_cast<uint8_t>(text[pos + i]);
  return static_cast<int32_t>(packed);
}

}  // namespace

struct SpmEncoder::Scratch {
  struct Symbol {
    uint32_t offset, length;
    int32_t prev, next;
    int32_t id;  // its mergeable token, or -1 (a character with no token of its own)
  };
  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t length;
    int32_t id;  // the token the pair merges into
  };
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

SpmEncoder::SpmEncoder(const Vocab& vocab, const TokenIndex& index) : vocab_(&vocab), index_(&index) {
  for (int b = 0; b < 256; ++b) {
    const auto it = index.find(fmt::format("<0x{:02X}>", b));
    byte_token_[b] = it == index.end() ? -1 : it->second;
  }
  size_t n_pairs = 0;
  for (const auto& token : vocab.tokens) n_pairs += token.size();
  inner_pairs_.reserve(n_pairs);
  token_pairs_.reserve(n_pairs);
  char_tokens_.reserve(vocab.tokens.size());
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const std::string_view text = vocab.tokens[id];
    if (mergeable_token(text) != id) continue;
    size_t pos = 0;
    int32_t previous = 0;
    while (pos < text.size()) {
      const size_t n = char_length(text, pos);
      const int32_t current = pack_char(text, pos, n);
      if (pos > 0) {
        inner_pairs_.insert(previous, current, {0, 0});
        const int32_t left = mergeable_token(text.substr(0, pos)), right = mergeable_token(text.substr(pos));
        if (left >= 0 && right >= 0) token_pairs_.insert(left, right, {0, id});
      } else if (n == text.size()) {
        char_tokens_.insert(0, current, {0, id});
      }
      previous = current;
      pos += n;
    }
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

void SpmEncoder::encode_segment(std::string_view text, std::vector<int32_t>& out, bool& previous_was_unknown,
                                Scratch& scratch, bool* starts_unknown) const {
  auto& symbols = scratch.symbols;
  symbols.clear();
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = char_length(text, pos);
    const auto index = static_cast<int32_t>(symbols.size());
    const MergeTable::Merge* token = char_tokens_.find(0, pack_char(text, pos, n));
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(n), index - 1,
                       pos + n < text.size() ? index + 1 : -1, token != nullptr ? token->result : -1});
    pos += n;
  }

  using Bigram = Scratch::Bigram;
  // Heap order: the highest score, then the leftmost pair, comes out first.
  const auto lower_priority = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  auto& heap = scratch.heap;
  heap.clear();
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t length = symbols[left].length + symbols[right].length;
    int32_t id = -1;
    if (symbols[left].id >= 0 && symbols[right].id >= 0) {
      const MergeTable::Merge* m = token_pairs_.find(symbols[left].id, symbols[right].id);
      if (m != nullptr) id = m->result;
    } else {  // a side without a token of its own (e.g. "x" where only "▁x" is a token)
      id = mergeable_token(text.substr(symbols[left].offset, length));
    }
    if (id < 0) return;
    heap.push_back({vocab_->scores[id], left, right, length, id});
    std::push_heap(heap.begin(), heap.end(), lower_priority);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), lower_priority);
    const Bigram b = heap.back();
    heap.pop_back();
    auto& left = symbols[b.left];
    auto& right = symbols[b.right];
    // Stale: one side was merged into something else since this pair was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;
    left.length += right.length;
    left.id = b.id;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].offset, symbols[i].length);
    const int32_t id = symbols[i].id;
    if (id >= 0) {
      out.push_back(id);
      previous_was_unknown = false;
    } else {
      emit_fallback(piece, out, previous_was_unknown);
    }
    if (i == 0 && starts_unknown != nullptr) *starts_unknown = previous_was_unknown;
  }
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  Scratch scratch;
  // Repeated short segments are looked up. Unknown-token fusion depends on the previous
  // segment, so an entry remembers whether its ids start / end with a fallback <unk>.
  struct Cached {
    uint32_t offset, count;
    bool starts_unknown, ends_unknown;
  };
  std::unordered_map<std::string_view, Cached> cache;
  std::vector<int32_t> pool;
  constexpr size_t kMaxCachedSegment = 48;
  bool previous_was_unknown = false;

  const auto flush = [&](size_t begin, size_t end) {
    const std::string_view segment = text.substr(begin, end - begin);
    if (segment.size() > kMaxCachedSegment) {
      encode_segment(segment, out, previous_was_unknown, scratch);
      return;
    }
    auto it = cache.find(segment);
    if (it == cache.end()) {
      const size_t before = pool.size();
      bool unknown = false;
      bool starts_unknown = false;
      encode_segment(segment, pool, unknown, scratch, &starts_unknown);
      it = cache.emplace(segment, Cached{static_cast<uint32_t>(before), static_cast<uint32_t>(pool.size() - before),
                                         starts_unknown, unknown}).first;
    }
    const Cached& c = it->second;
    const uint32_t skip = previous_was_unknown && c.starts_unknown ? 1 : 0;  // fuse with the <unk> before
    out.insert(out.end(), pool.begin() + c.offset + skip, pool.begin() + c.offset + c.count);
    previous_was_unknown = c.ends_unknown;
  };

  size_t segment_start = 0;
  int32_t previous = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = char_length(text, pos);
    const int32_t current = pack_char(text, pos, n);
    if (pos > 0 && inner_pairs_.find(previous, current) == nullptr) {
      flush(segment_start, pos);
      segment_start = pos;
    }
    previous = current;
    pos += n;
  }
  flush(segment_start, text.size());
}

}  // namespace edgellm::tok
