// Causal grouped-query attention over the KV cache (shared by every architecture whose layers
// store per-head key and value rows). Query head h reads KV head h / (n_head / n_head_kv).
#pragma once

#include <cstdint>

namespace edgellm::runtime {

class KvCache;
class ThreadPool;

struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;  // per head; key row of the cache is n_head_kv · head_dim_k wide
  int64_t head_dim_v = 0;
  float scale = 0.0f;      // score multiplier, usually 1/sqrt(head_dim_k)
};

// q: n_tokens rows of n_head·head_dim_k (position pos0 + t for row t, RoPE already applied).
// The cache must already hold keys/values for positions [0, pos0 + n_tokens).
// out: n_tokens rows of n_head·head_dim_v. Token t attends to positions 0 .. pos0 + t.
void attention(const AttentionShape& shape, const KvCache& kv, int layer, const float* q,
               int64_t pos0, int64_t n_tokens, float* out, ThreadPool& pool);

}  // namespace edgellm::runtime
