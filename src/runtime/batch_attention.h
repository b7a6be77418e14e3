// The hook through which a layer attends when its batch holds tokens of several sequences
// (the server's continuous batching): the layer computes Q, K and V for every token of the step
// with one matmul per weight, then hands them here; the implementation stores each token's key
// and value in its own sequence's KV blocks at that token's position and runs causal attention
// per sequence over that sequence's KV only.
#pragma once

#include <cstdint>
#include <span>

#include "runtime/attention.h"

namespace edgellm::runtime {

class BatchAttention {
 public:
  virtual ~BatchAttention() = default;
  // q: n_tokens rows of n_head·head_dim_k (RoPE applied at each token's own position);
  // k, v: n_tokens rows of n_head_kv·head_dim_k / head_dim_v; out: n_tokens rows of
  // n_head·head_dim_v. For a layer that keeps no value rows (KV shape v_width 0: MLA's latent
  // attention, one KV head whose values are the first head_dim_v columns of its keys) v is
  // nullptr. store(), then attend_stored() of every segment.
  void attend(int layer, const AttentionShape& shape, const float* q, const float* k, const float* v,
              float* out) {
    store(layer, k, v);
    attend_stored(layer, shape, q, out, {});
  }

  // For a layer that attends some sequences its own way (MLA expands a long prompt's latents
  // and attends with the small head sizes): the step's sequences in row order, ...
  struct Segment {
    int64_t first_row = 0;  // the segment's first row in the step
    int64_t n_tokens = 0;
    int64_t n_past = 0;     // cached positions of its sequence before the step
  };
  virtual std::span<const Segment> segments() const = 0;
  // ... the step's K/V rows stored without attending, ...
  virtual void store(int layer, const float* k, const float* v) = 0;
  // ... attention of the segments whose `selected` entry is true (empty: every segment) over
  // their stored rows (the other segments' and the padding rows of out are zeros), ...
  virtual void attend_stored(int layer, const AttentionShape& shape, const float* q, float* out,
                             std::span<const bool> selected) = 0;
  // ... and columns [col, col + n_cols) of segment i's key rows at positions [0, n_pos), as
  // F32 rows of n_cols.
  virtual void read_keys(int layer, size_t segment, int64_t n_pos, int64_t col, int64_t n_cols,
                         float* out) const = 0;
};

}  // namespace edgellm::runtime
