// Ids of the short pre-tokenized pieces already encoded in one text: natural text repeats its
// words constantly, so most pieces are a lookup instead of a BPE merge. Open addressing over
// flat arrays (std::unordered_map's node per entry and byte-wise hash cost more than the merge).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace edgellm::tok {

class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 24;  // longer pieces rarely repeat

  // The ids cached for `piece` with `tag` (the caller's kind of piece: the same bytes may encode
  // differently in another context), or nullopt with *slot set for insert(). The piece's bytes
  // must outlive the cache (keys are views). A piece may have no ids (bytes a vocabulary lacks).
  std::optional<std::span<const int32_t>> find(std::string_view piece, uint16_t tag, size_t* slot) const {
    const uint32_t hash = hash_of(piece, tag);
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.data == nullptr) {
        *slot = i;
        return std::nullopt;
      }
      if (s.hash == hash && s.length == piece.size() && s.tag == tag && std::memcmp(s.data, piece.data(), piece.size()) == 0) {
        return std::span<const int32_t>(ids_.data() + s.ids_offset, s.ids_count);
      }
    }
  }

  // Remembers the ids of a piece find() did not have, at the slot it returned.
  void insert(std::string_view piece, uint16_t tag, size_t slot, std::span<const int32_t> ids) {
    slots_[slot] = {piece.data(), static_cast<uint16_t>(piece.size()), tag, hash_of(piece, tag),
                    static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(ids.size())};
    ids_.insert(ids_.end(), ids.begin(), ids.end());
    if (2 * ++count_ > slots_.size()) grow();
  }

 private:
  struct Slot {
    const char* data = nullptr;  // nullptr: empty
    uint16_t length = 0;
    uint16_t tag = 0;
    uint32_t hash = 0;
    uint32_t ids_offset = 0;
    uint32_t ids_count = 0;
  };

  static uint64_t load(const char* p, size_t n) {  // n <= 8 bytes, little or big end alike
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    return v;
  }
  // Pieces are at most kMaxPieceBytes; two (possibly overlapping) words cover up to 16 bytes.
  static uint32_t hash_of(std::string_view piece, uint16_t tag) {
    const char* p = piece.data();
    const size_t n = piece.size();
    uint64_t h = (n | uint64_t{tag} << 16) * 0x9E3779B97F4A7C15ull;
    const auto mix = [&h](uint64_t word) { h = (h ^ word) * 0xBF58476D1CE4E5B9ull; };
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8) mix(load(p + i, 8));
      mix(load(p + n - 8, 8));
    } else if (n > 0) {
      mix(load(p, n));
    }
    return static_cast<uint32_t>((h ^ (h >> 31)) >> 16);
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.data == nullptr) continue;
      size_t i = s.hash & mask;
      while (slots_[i].data != nullptr) i = (i + 1) & mask;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_ = std::vector<Slot>(1024);
  std::vector<int32_t> ids_;
  size_t count_ = 0;
};

}  // namespace edgellm::tok
