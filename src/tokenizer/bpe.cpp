#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace edgellm::tok {

void MergeTable::reserve(size_t n) {
  size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  entries_.assign(capacity, Entry{});
  mask_ = capacity - 1;
  count_ = 0;
}

void MergeTable::insert(int32_t left, int32_t right, Merge merge) {
  if (2 * (count_ + 1) > entries_.size()) fail("internal: merge table is full");
  const uint64_t key = pack(left, right);
  for (size_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
    Entry& e = entries_[slot];
    if (e.key == key) return;
    if (e.key == kEmpty) {
      e.key = key;
      e.merge = merge;
      ++count_;
      return;
    }
  }
}

int32_t BpeEncoder::symbol_for(std::string_view text, const TokenIndex& index) {
  if (const auto it = index.find(text); it != index.end()) return it->second;
  if (const auto it = extra_index_.find(text); it != extra_index_.end()) return it->second;
  const auto id = static_cast<int32_t>(n_vocab_ + extra_symbols_.size());
  extra_symbols_.emplace_back(text);
  extra_index_.emplace(std::string(text), id);
  return id;
}

BpeEncoder::BpeEncoder(const Vocab& vocab, const TokenIndex& index, bool ignore_merges)
    : vocab_(&vocab), index_(&index), ignore_merges_(ignore_merges), n_vocab_(vocab.size()) {
  const auto& table = unicode::byte_level_table();
  for (int b = 0; b < 256; ++b) {
    byte_symbol_[b] = symbol_for(table.byte_to_utf8[b], index);
    const auto it = index.find(std::string_view(reinterpret_cast<const char*>(&b), 1));
    single_byte_token_[b] = it == index.end() ? -1 : it->second;
  }
  merges_.reserve(vocab.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const auto& [left, right] = vocab.merges[rank];
    joined.assign(left).append(right);
    const int32_t l = symbol_for(left, index);
    const int32_t r = symbol_for(right, index);
    merges_.insert(l, r, {static_cast<int32_t>(rank), symbol_for(joined, index)});
  }
}

int32_t BpeEncoder::rank_of(int32_t left, int32_t right) const {
  const MergeTable::Merge* m = merges_.find(left, right);
  return m == nullptr ? INT_MAX : m->rank;
}

void BpeEncoder::emit(int32_t symbol, std::vector<int32_t>& out) const {
  if (symbol < n_vocab_) {
    out.push_back(symbol);
    return;
  }
  // Not a token: fall back to tokens of single bytes of its text (none exist in a proper
  // byte-level vocabulary, so such text is dropped, like the reference does).
  for (const char c : extra_symbols_[symbol - n_vocab_]) {
    const int32_t id = single_byte_token_[static_cast<uint8_t>(c)];
    if (id >= 0) out.push_back(id);
  }
}

// Short pieces (almost all): a flat array, erase on merge; cache-friendly and allocation-free.
void BpeEncoder::merge_small(BpeScratch& s) const {
  auto& sym = s.symbols;
  auto& rank = s.ranks;  // rank[i] belongs to the pair (sym[i], sym[i+1])
  rank.resize(sym.size());
  for (size_t i = 0; i + 1 < sym.size(); ++i) rank[i] = rank_of(sym[i], sym[i + 1]);
  rank.back() = INT_MAX;
  while (sym.size() > 1) {
    const auto best = std::min_element(rank.begin(), rank.end() - 1);
    if (*best == INT_MAX) break;
    const auto i = static_cast<size_t>(best - rank.begin());
    sym[i] = merges_.find(sym[i], sym[i + 1])->result;
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    rank.erase(rank.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    rank[i] = i + 1 < sym.size() ? rank_of(sym[i], sym[i + 1]) : INT_MAX;
    if (i > 0) rank[i - 1] = rank_of(sym[i - 1], sym[i]);
  }
}

// Long pieces (runs of spaces, long CJK runs): linked list + priority queue, O(n log n).
void BpeEncoder::merge_large(BpeScratch& s) const {
  auto& sym = s.symbols;
  const auto n = static_cast<int32_t>(sym.size());
  s.prev.resize(n);
  s.next.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, left, left_symbol, right_symbol;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto push = [&](int32_t left) {
    if (left < 0 || s.next[left] < 0) return;
    const int32_t right = s.next[left];
    const int32_t r = rank_of(sym[left], sym[right]);
    if (r != INT_MAX) queue.push({r, left, sym[left], sym[right]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    const int32_t right = s.next[c.left];
    // Stale entries: the left symbol was merged away (-1) or either side changed since.
    if (sym[c.left] != c.left_symbol || right < 0 || sym[right] != c.right_symbol) continue;
    sym[c.left] = merges_.find(c.left_symbol, c.right_symbol)->result;
    sym[right] = -1;
    s.next[c.left] = s.next[right];
    if (s.next[right] >= 0) s.prev[s.next[right]] = c.left;
    push(s.prev[c.left]);
    push(c.left);
  }
  int32_t kept = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (sym[i] >= 0) sym[kept++] = sym[i];
  }
  sym.resize(kept);
}

void BpeEncoder::encode_piece(std::string_view bytes, std::vector<int32_t>& out, BpeScratch& s) const {
  if (bytes.empty()) return;
  if (ignore_merges_) {
    s.mapped.clear();
    const auto& table = unicode::byte_level_table();
    for (const char c : bytes) s.mapped.append(table.byte_to_utf8[static_cast<uint8_t>(c)]);
    if (const auto it = index_->find(s.mapped); it != index_->end()) {
      out.push_back(it->second);
      return;
    }
  }
  s.symbols.resize(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) s.symbols[i] = byte_symbol_[static_cast<uint8_t>(bytes[i])];
  constexpr size_t kSmallPiece = 128;
  if (s.symbols.size() <= kSmallPiece) {
    merge_small(s);
  } else {
    merge_large(s);
  }
  for (const int32_t symbol : s.symbols) emit(symbol, out);
}

}  // namespace edgellm::tok
