// Byte-level BPE (GPT-2 style): a pre-tokenized piece is mapped byte by byte to symbols, then
// the adjacent pair with the lowest merge rank is merged (leftmost first on ties) until no pair
// has a merge. Symbols are integers, so a merge is one hash lookup.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace edgellm::tok {

// Open-addressing map from a symbol pair to its merge; built once, read-only afterwards.
class MergeTable {
 public:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  void reserve(size_t n);
  // Keeps the first (lowest-rank) entry for a pair, as the reference does.
  void insert(int32_t left, int32_t right, Merge merge);
  const Merge* find(int32_t left, int32_t right) const { return find(pack(left, right)); }
  const Merge* find(uint64_t key) const {
    if (!may_contain(key)) return nullptr;
    for (size_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
      const Entry& e = entries_[slot];
      if (e.key == key) return &e.merge;
      if (e.key == kEmpty) return nullptr;
    }
  }
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // pack(-1, -1): symbols are never negative

 private:
  struct Entry {
    uint64_t key = kEmpty;
    Merge merge{};
  };
  // Blocked Bloom filter over the keys, two bits in one word: most pairs a text asks about have
  // no merge, and the filter (a fraction of the table's size, so cache-resident) rejects them.
  static uint64_t filter_hash(uint64_t key) {
    key ^= key >> 33;  // murmur3's finaliser: every output bit depends on every key bit
    key *= 0xFF51AFD7ED558CCDull;
    key ^= key >> 33;
    key *= 0xC4CEB9FE1A85EC53ull;
    return key ^ (key >> 33);
  }
  static uint64_t filter_bits(uint64_t h) { return (uint64_t{1} << (h & 63)) | (uint64_t{1} << ((h >> 6) & 63)); }
  bool may_contain(uint64_t key) const {
    const uint64_t h = filter_hash(key);
    const uint64_t bits = filter_bits(h);
    return (filter_[h >> filter_shift_] & bits) == bits;
  }
  // Fibonacci hashing: the top bits of the product depend on every bit of the key (the low
  // bits of a shifted product would ignore the left symbol, and cluster).
  size_t hash(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  std::vector<Entry> entries_;
  std::vector<uint64_t> filter_;
  int filter_shift_ = 63;
  size_t mask_ = 0;
  int shift_ = 63;
  size_t count_ = 0;
};

// Per-call working memory, reused across pieces to avoid allocations.
struct BpeScratch {
  std::vector<int32_t> symbols;
  std::vector<int32_t> ranks;    // of the pair (symbols[i], symbols[i+1]); INT_MAX: no merge
  std::vector<int32_t> results;  // the symbol that pair merges into
  std::vector<int32_t> prev;
  std::vector<int32_t> next;
  std::vector<uint64_t> heap;  // rank << 32 | left position: the smallest is the next merge
  // Direct-mapped memo of merge-table lookups. The table is megabytes (a cache miss per lookup),
  // while the pairs one text needs are few and repeat; empty until the first long piece.
  struct PairMemo {
    uint64_t key;
    MergeTable::Merge merge;
  };
  std::vector<PairMemo> pair_memo;
  std::string mapped;
};

class BpeEncoder {
 public:
  BpeEncoder(const Vocab& vocab, const TokenIndex& index, bool ignore_merges);

  // Appends the ids of one pre-tokenized piece (raw bytes).
  void encode_piece(std::string_view bytes, std::vector<int32_t>& out, BpeScratch& scratch) const;

 private:
  int32_t symbol_for(std::string_view text, const TokenIndex& index);
  // Both start from scratch.symbols (one per byte) and the ranks/results of each adjacent pair.
  void merge_small(BpeScratch& scratch) const;
  void merge_large(BpeScratch& scratch) const;
  void emit(int32_t symbol, std::vector<int32_t>& out) const;
  MergeTable::Merge merge_of(int32_t left, int32_t right) const;  // rank INT_MAX: none
  MergeTable::Merge memo_merge_of(int32_t left, int32_t right, BpeScratch& scratch) const;

  const Vocab* vocab_;
  const TokenIndex* index_;
  bool ignore_merges_;
  int32_t n_vocab_;
  // Symbols below n_vocab_ are tokens; the others are strings that merges mention but the
  // vocabulary lacks (their bytes are emitted one by one, as the reference does).
  std::vector<std::string> extra_symbols_;
  TokenIndex extra_index_;
  MergeTable merges_;
  std::array<int32_t, 256> byte_symbol_{};
  // Merges of all byte-byte pairs: a piece's first pairs need no hashing.
  std::vector<MergeTable::Merge> byte_pair_merge_;
  std::array<int32_t, 256> single_byte_token_{};  // token whose text is exactly that byte, or -1
};

}  // namespace edgellm::tok
