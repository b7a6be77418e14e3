// The hook through which a layer attends when its batch holds tokens of several sequences
// (the server's continuous batching): the layer computes Q, K and V for every token of the step
// with one matmul per weight, then hands them here; the implementation stores each token's key
// and value in its own sequence's KV blocks at that token's position and runs causal attention
// per sequence over that sequence's KV only.
#pragma once

#include "runtime/attention.h"

namespace edgellm::runtime {

class BatchAttention {
 public:
  virtual ~BatchAttention() = default;
  // q: n_tokens rows of n_head·head_dim_k (RoPE applied at each token's own position);
  // k, v: n_tokens rows of n_head_kv·head_dim_k / head_dim_v; out: n_tokens rows of
  // n_head·head_dim_v. For a layer that keeps no value rows (KV shape v_width 0: MLA's latent
  // attention, one KV head whose values are the first head_dim_v columns of its keys) v is
  // nullptr.
  virtual void attend(int layer, const AttentionShape& shape, const float* q, const float* k,
                      const float* v, float* out) = 0;
};

}  // namespace edgellm::runtime
