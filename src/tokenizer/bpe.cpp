#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace edgellm::tok {

void MergeTable::reserve(size_t n) {
  size_t capacity = 16;
  shift_ = 64 - 4;
  while (capacity < 2 * n) {
    capacity *= 2;
    --shift_;
  }
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
  byte_pair_merge_.resize(256 * 256);
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) byte_pair_merge_[a * 256 + b] = merge_of(byte_symbol_[a], byte_symbol_[b]);
  }
}

MergeTable::Merge BpeEncoder::merge_of(int32_t left, int32_t right) const {
  const MergeTable::Merge* m = merges_.find(left, right);
  return m == nullptr ? MergeTable::Merge{INT_MAX, -1} : *m;
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
  auto& rank = s.ranks;
  auto& result = s.results;
  const auto set_pair = [&](size_t i) {
    const MergeTable::Merge m = i + 1 < sym.size() ? merge_of(sym[i], sym[i + 1]) : MergeTable::Merge{INT_MAX, -1};
    rank[i] = m.rank;
    result[i] = m.result;
  };
  while (sym.size() > 1) {
    const auto best = std::min_element(rank.begin(), rank.end() - 1);
    if (*best == INT_MAX) break;
    const auto i = static_cast<size_t>(best - rank.begin());
    sym[i] = result[i];
    const auto erase_at = static_cast<std::ptrdiff_t>(i) + 1;
    sym.erase(sym.begin() + erase_at);
    rank.erase(rank.begin() + erase_at);
    result.erase(result.begin() + erase_at);
    set_pair(i);
    if (i > 0) set_pair(i - 1);
  }
}

// Longer pieces (CJK runs, runs of spaces): linked list + binary heap, O(n log n). The heap lives
// in the scratch so a call allocates nothing once warmed up.
void BpeEncoder::merge_large(BpeScratch& s) const {
  auto& sym = s.symbols;
  const auto n = static_cast<int32_t>(sym.size());
  s.prev.resize(n);
  s.next.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  using Candidate = BpeScratch::Candidate;
  // Max-heap order inverted: the lowest rank, then the leftmost position, comes out first.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  auto& heap = s.heap;
  heap.clear();
  const auto push = [&](int32_t left) {
    if (left < 0 || s.next[left] < 0) return;
    const int32_t right = s.next[left];
    const MergeTable::Merge m = merge_of(sym[left], sym[right]);
    if (m.rank == INT_MAX) return;
    heap.push_back({m.rank, left, sym[left], sym[right], m.result});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (s.ranks[i] != INT_MAX) heap.push_back({s.ranks[i], i, sym[i], sym[i + 1], s.results[i]});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    const int32_t right = s.next[c.left];
    // Stale entries: the left symbol was merged away (-1) or either side changed since.
    if (sym[c.left] != c.left_symbol || right < 0 || sym[right] != c.right_symbol) continue;
    sym[c.left] = c.result;
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
  const size_t n = bytes.size();
  s.symbols.resize(n);
  s.ranks.resize(n);
  s.results.resize(n);
  for (size_t i = 0; i < n; ++i) s.symbols[i] = byte_symbol_[static_cast<uint8_t>(bytes[i])];
  for (size_t i = 0; i + 1 < n; ++i) {
    const MergeTable::Merge m = byte_pair_merge_[static_cast<uint8_t>(bytes[i]) * 256 + static_cast<uint8_t>(bytes[i + 1])];
    s.ranks[i] = m.rank;
    s.results[i] = m.result;
  }
  s.ranks[n - 1] = INT_MAX;
  constexpr size_t kSmallPiece = 24;  // measured: the flat array wins below this
  if (s.symbols.size() <= kSmallPiece) {
    merge_small(s);
  } else {
    merge_large(s);
  }
  for (const int32_t symbol : s.symbols) emit(symbol, out);
}

}  // namespace edgellm::tok
