#include "runtime/paged_kv.h"

#include <algorithm>

#include "core/error.h"
#include "core/fp16.h"

namespace edgellm::runtime {

PagedKvPool::PagedKvPool(std::vector<KvLayerShape> layers, int64_t n_blocks, int64_t block_size,
                         KvType type)
    : block_size_(block_size), type_(type) {
  if (block_size <= 0) fail("paged KV: block size {} must be positive", block_size);
  if (n_blocks <= 0 || n_blocks > (int64_t{1} << 30)) fail("paged KV: {} blocks is not a valid pool size", n_blocks);
  layers_ = allocate_kv_rows(layers, n_blocks * block_size, type, "paged KV");
  meta_.resize(static_cast<size_t>(n_blocks));
  // Free list popped from the back: hand out low block ids first (easier to read in tests).
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

const KvLayerShape& PagedKvPool::shape(int layer) const {
  if (layer < 0 || static_cast<size_t>(layer) >= layers_.size())
    fail("paged KV: layer {} out of range ({} layers)", layer, layers_.size());
  return layers_[static_cast<size_t>(layer)].shape;
}

size_t PagedKvPool::size_bytes() const {
  size_t total = 0;
  for (const LayerData& l : layers_)
    total += (l.k16.size() + l.v16.size()) * 2 + (l.k32.size() + l.v32.size()) * 4;
  return total;
}

void PagedKvPool::check_block(int32_t block) const {
  if (block < 0 || block >= n_blocks()) fail("paged KV: block {} out of range ({} blocks)", block, n_blocks());
}

int32_t PagedKvPool::allocate() {
  int32_t block = -1;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else if (!evictable_.empty()) {
    block = evictable_.begin()->second;
    evictable_.erase(evictable_.begin());
    unpublish(block);
  } else {
    fail("paged KV: all {} blocks are in use", n_blocks());
  }
  meta_[static_cast<size_t>(block)].refs = 1;
  return block;
}

void PagedKvPool::retain(int32_t block) {
  check_block(block);
  BlockMeta& m = meta_[static_cast<size_t>(block)];
  if (m.refs == 0) {
    if (!m.published) fail("paged KV: block {} is free and cannot be retained", block);
    evictable_.erase(m.released_at);
  }
  ++m.refs;
}

void PagedKvPool::release(int32_t block) {
  check_block(block);
  BlockMeta& m = meta_[static_cast<size_t>(block)];
  if (m.refs <= 0) fail("paged KV: block {} released more often than retained", block);
  if (--m.refs > 0) return;
  if (m.published) {
    m.released_at = ++tick_;
    evictable_.emplace(m.released_at, block);
  } else {
    free_.push_back(block);
  }
}

void PagedKvPool::release_sequence(SequenceKv& seq) {
  for (int32_t b : seq.blocks) release(b);
  seq = SequenceKv{};
}

void PagedKvPool::unpublish(int32_t block) {
  BlockMeta& m = meta_[static_cast<size_t>(block)];
  if (!m.published) return;
  by_hash_.erase(m.hash);
  m.published = false;
  m.tokens.clear();
}

uint64_t PagedKvPool::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  // FNV-1a over the parent hash and the token ids, then a final avalanche (splitmix64), so
  // similar token runs do not land in neighbouring buckets. Lookups compare the tokens too.
  uint64_t h = 1469598103934665603ull ^ parent;
  const auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xFF;
      h *= 1099511628211ull;
    }
  };
  mix(parent);
  for (int32_t t : tokens) mix(static_cast<uint32_t>(t));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

int32_t PagedKvPool::lookup(uint64_t hash, std::span<const int32_t> tokens) {
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  const BlockMeta& m = meta_[static_cast<size_t>(it->second)];
  if (!std::equal(m.tokens.begin(), m.tokens.end(), tokens.begin(), tokens.end())) return -1;
  retain(it->second);
  return it->second;
}

void PagedKvPool::publish(int32_t block, uint64_t hash, std::span<const int32_t> tokens) {
  check_block(block);
  if (static_cast<int64_t>(tokens.size()) != block_size_)
    fail("paged KV: only full blocks can be published ({} of {} tokens)", tokens.size(), block_size_);
  BlockMeta& m = meta_[static_cast<size_t>(block)];
  if (m.refs <= 0) fail("paged KV: block {} is not held and cannot be published", block);
  if (m.published || by_hash_.count(hash) != 0) return;
  m.published = true;
  m.hash = hash;
  m.tokens.assign(tokens.begin(), tokens.end());
  by_hash_.emplace(hash, block);
}

void PagedKvPool::store(int layer, int32_t block, int64_t offset, const float* k, const float* v) {
  shape(layer);
  check_block(block);
  if (offset < 0 || offset >= block_size_) fail("paged KV: row {} outside a block of {}", offset, block_size_);
  LayerData& l = layers_[static_cast<size_t>(layer)];
  const int64_t row = static_cast<int64_t>(block) * block_size_ + offset;
  const int64_t kw = l.shape.k_width, vw = l.shape.v_width;
  if (type_ == KvType::F16) {
    for (int64_t i = 0; i < kw; ++i) l.k16[static_cast<size_t>(row * kw + i)] = fp32_to_fp16(k[i]);
    for (int64_t i = 0; i < vw; ++i) l.v16[static_cast<size_t>(row * vw + i)] = fp32_to_fp16(v[i]);
  } else {
    std::copy(k, k + kw, l.k32.begin() + row * kw);
    if (vw > 0) std::copy(v, v + vw, l.v32.begin() + row * vw);
  }
}

KvRows PagedKvPool::block_rows(int layer, int32_t block, int64_t k_col, int64_t v_col, int64_t pos_begin,
                               int64_t n_pos) const {
  shape(layer);  // validates the index
  check_block(block);
  const LayerData& l = layers_[static_cast<size_t>(layer)];
  // A layer without value rows (MLA) reads its values from the key rows.
  const bool shared_rows = l.shape.v_width == 0;
  const int64_t v_limit = shared_rows ? l.shape.k_width : l.shape.v_width;
  if (n_pos < 0 || n_pos > block_size_ || k_col < 0 || v_col < 0 || k_col > l.shape.k_width || v_col > v_limit)
    fail("paged KV: rows {} of a {}-position block, columns {} / {} out of range", n_pos, block_size_, k_col, v_col);
  const auto row = static_cast<size_t>(block) * static_cast<size_t>(block_size_);
  const auto kw = static_cast<size_t>(l.shape.k_width);
  const auto vw = shared_rows ? kw : static_cast<size_t>(l.shape.v_width);
  KvRows r;
  r.type = type_;
  if (type_ == KvType::F16) {
    r.k = l.k16.data() + row * kw + static_cast<size_t>(k_col);
    r.v = (shared_rows ? l.k16.data() : l.v16.data()) + row * vw + static_cast<size_t>(v_col);
  } else {
    r.k = l.k32.data() + row * kw + static_cast<size_t>(k_col);
    r.v = (shared_rows ? l.k32.data() : l.v32.data()) + row * vw + static_cast<size_t>(v_col);
  }
  r.k_stride = kw;
  r.v_stride = vw;
  r.pos_begin = pos_begin;
  r.n_pos = n_pos;
  return r;
}

}  // namespace edgellm::runtime
