// One key/value memory pool shared by every sequence the server runs: fixed-size blocks of
// `block_size` positions, each sequence holding a block table (its positions p live in block
// table[p / block_size], row p % block_size). Blocks are reference counted so sequences whose
// prompts start alike share the KV of that common prefix:
//   - a block whose positions are all written is "published" under a chain hash of its tokens
//     and of every token before it (the KV of a position depends on the whole prefix);
//   - a new sequence looks its prompt up block by block and retains the blocks it finds;
//   - shared blocks are always full, so they are only read and no copy-on-write is needed;
//   - a published block nobody holds any more stays cached until an allocation needs it
//     (least recently released first).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

#include "runtime/attention.h"
#include "runtime/kv_cache.h"

namespace edgellm::runtime {

// The blocks one sequence holds, in position order, and how many positions are written.
struct SequenceKv {
  std::vector<int32_t> blocks;
  std::vector<uint64_t> block_hashes;  // chain hashes of the published leading blocks
  int64_t n_past = 0;
};

class PagedKvPool {
 public:
  PagedKvPool(std::vector<KvLayerShape> layers, int64_t n_blocks, int64_t block_size, KvType type);

  int64_t block_size() const { return block_size_; }
  KvType type() const { return type_; }
  int64_t n_blocks() const { return static_cast<int64_t>(meta_.size()); }
  size_t n_layers() const { return layers_.size(); }
  const KvLayerShape& shape(int layer) const;
  // Blocks an allocation can get now: free ones plus cached ones nobody holds.
  int64_t n_available() const { return static_cast<int64_t>(free_.size() + evictable_.size()); }
  // Blocks held by at least one sequence.
  int64_t n_in_use() const { return n_blocks() - n_available(); }
  int64_t n_cached() const { return static_cast<int64_t>(by_hash_.size()); }
  size_t size_bytes() const;

  // A block with reference count 1; evicts the least recently released cached block when no
  // block is free. Throws edgellm::Error when every block is in use.
  int32_t allocate();
  void retain(int32_t block);
  void release(int32_t block);
  // Releases all blocks of `seq` and empties it.
  void release_sequence(SequenceKv& seq);

  // Hash of a full block's tokens following the block with chain hash `parent` (0 for the first).
  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);
  // The published block with this chain hash and exactly these tokens, retained for the caller,
  // or -1.
  int32_t lookup(uint64_t hash, std::span<const int32_t> tokens);
  // Makes a full block findable by lookup(). No-op if an equal block is already published.
  void publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens);

  // Writes the key (and value) row of one position: row `offset` of `block`, layer `layer`.
  void store(int layer, int32_t block, int64_t offset, const float* k, const float* v);
  // The first n_pos rows of `block` in place, for an AttentionTile: key columns from k_col,
  // value columns from v_col, numbered from position pos_begin. A layer without value rows
  // (v_width 0: MLA, whose values are the latent part of its key rows) takes the value columns
  // from the key rows.
  KvRows block_rows(int layer, int32_t block, int64_t k_col, int64_t v_col, int64_t pos_begin,
                    int64_t n_pos) const;

 private:
  struct BlockMeta {
    int32_t refs = 0;
    bool published = false;
    uint64_t hash = 0;
    uint64_t released_at = 0;  // key in evictable_ while refs == 0 and published
    std::vector<int32_t> tokens;
  };
  using LayerData = KvLayerRows;
  void check_block(int32_t block) const;
  void unpublish(int32_t block);

  int64_t block_size_;
  KvType type_;
  std::vector<LayerData> layers_;
  std::vector<BlockMeta> meta_;
  std::vector<int32_t> free_;
  std::map<uint64_t, int32_t> evictable_;  // release tick -> block, oldest first
  std::unordered_map<uint64_t, int32_t> by_hash_;
  uint64_t tick_ = 0;
};

}  // namespace edgellm::runtime
