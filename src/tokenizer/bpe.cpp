#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <functional>

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
  // About 16 bits per merge: a false positive rate near 1% with two bits set per key.
  size_t filter_words = 2;
  filter_shift_ = 63;
  while (filter_words * 64 < 16 * n) {
    filter_words *= 2;
    --filter_shift_;
  }
  filter_.assign(filter_words, 0);
}

void MergeTable::insert(int32_t left, int32_t right, Merge merge) {
  if (2 * (count_ + 1) > entries_.size()) fail("internal: merge table is full");
  const uint64_t key = pack(left, right);
  for (size_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
    Entry& e = entries_[slot];
    if (e.key == key) return;
    if (e.key == kEmpty) {
      const uint64_t h = filter_hash(key);
      filter_[h >> filter_shift_] |= filter_bits(h);
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

MergeTable::Merge BpeEncoder::memo_merge_of(int32_t left, int32_t right, BpeScratch& s) const {
  constexpr int kMemoBits = 12;  // 4096 entries, 64 KiB: stays in L2
  if (s.pair_memo.empty()) s.pair_memo.assign(size_t{1} << kMemoBits, {MergeTable::kEmpty, {}});
  const uint64_t key = MergeTable::pack(left, right);
  BpeScratch::PairMemo& memo = s.pair_memo[(key * 0x9E3779B97F4A7C15ull) >> (64 - kMemoBits)];
  if (memo.key != key) {
    const MergeTable::Merge* m = merges_.find(key);
    memo = {key, m == nullptr ? MergeTable::Merge{INT_MAX, -1} : *m};
  }
  return memo.merge;
}

// Longer pieces (CJK runs, runs of spaces): linked list + binary min-heap, O(n log n). A heap
// entry is one integer, rank << 32 | left position, so the smallest is the lowest rank and the
// leftmost on ties. An entry is stale when ranks[left] no longer holds its rank: a rank names one
// pair, so an equal rank means the very same pair is still there. Allocation-free once warmed up.
void BpeEncoder::merge_large(BpeScratch& s) const {
  auto& sym = s.symbols;
  auto& rank = s.ranks;
  auto& result = s.results;
  const auto n = static_cast<int32_t>(sym.size());
  s.prev.resize(n);
  s.next.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    s.prev[i] = i - 1;
    s.next[i] = i + 1 < n ? i + 1 : -1;
  }
  auto& heap = s.heap;
  heap.clear();
  const auto entry = [&](int32_t left) { return static_cast<uint64_t>(rank[left]) << 32 | static_cast<uint32_t>(left); };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (rank[i] != INT_MAX) heap.push_back(entry(i));
  }
  const std::greater<> later;
  std::make_heap(heap.begin(), heap.end(), later);
  // Looks up the pair starting at `left` again (its right neighbour changed) and queues it.
  const auto refresh = [&](int32_t left) {
    const int32_t right = s.next[left];
    const MergeTable::Merge m = right < 0 ? MergeTable::Merge{INT_MAX, -1} : memo_merge_of(sym[left], sym[right], s);
    rank[left] = m.rank;
    result[left] = m.result;
    if (m.rank == INT_MAX) return;
    heap.push_back(entry(left));
    std::push_heap(heap.begin(), heap.end(), later);
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const uint64_t top = heap.back();
    heap.pop_back();
    const auto left = static_cast<int32_t>(static_cast<uint32_t>(top));
    if (rank[left] != static_cast<int32_t>(top >> 32)) continue;
    const int32_t right = s.next[left];
    sym[left] = result[left];
    sym[right] = -1;
    rank[right] = INT_MAX;
    s.next[left] = s.next[right];
    if (s.next[right] >= 0) s.prev[s.next[right]] = left;
    refresh(left);
    if (s.prev[left] >= 0) refresh(s.prev[left]);
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
