// The forward pass of one continuous-batching step: tokens of several sequences (prompt chunks
// and single decode tokens mixed) go through the model together, so every weight matrix is read
// once per step for all of them. Each token carries its own position (RoPE) and sequence (KV
// blocks in a shared PagedKvPool); attention runs per sequence over that sequence's KV only, so
// a sequence's results do not depend on which other sequences share the step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/paged_kv.h"
#include "runtime/scratch.h"

namespace edgellm::model {
class Model;
}

namespace edgellm::runtime {

class ThreadPool;

struct BatchSegment {
  SequenceKv* seq = nullptr;
  int64_t n_tokens = 0;      // this sequence's tokens in the step, at positions seq->n_past ..
  bool want_logits = false;  // return the logits of the segment's last token
};

class BatchForward {
 public:
  // n_ctx: the most positions a sequence may reach. batch_invariant: a sequence's logits are
  // bit-identical whatever shares its step. Free when the CPU's kernels for every
  // weight format of the model are batch-invariant (kernels::KernelSet::batch_invariant);
  // otherwise every matmul is padded to full 4-token tiles (costs compute on small steps, e.g.
  // one decoding request runs 4 rows).
  BatchForward(const model::Model& model, PagedKvPool& kv, ThreadPool& pool, int64_t n_ctx,
               bool batch_invariant = true);

  // Token rows of a step are padded to a multiple of this (1: no padding).
  int64_t row_multiple() const { return row_multiple_; }
  // The per-layer KV row shapes of the model (what its PagedKvPool needs).
  static std::vector<KvLayerShape> kv_shapes(const model::Model& model);

  // tokens: the segments' tokens, segment after segment. Every segment's sequence must already
  // hold blocks covering positions up to n_past + n_tokens. Returns one row of n_vocab logits per
  // segment with want_logits, in segment order, and advances each sequence's n_past. Throws
  // edgellm::Error, before changing any state, on inconsistent segments or an id outside the
  // vocabulary.
  std::span<const float> run(std::span<const int32_t> tokens, std::span<const BatchSegment> segments);

 private:
  void validate(std::span<const int32_t> tokens, std::span<const BatchSegment> segments) const;
  int64_t padded(int64_t n) const;
  void embed(std::span<const int32_t> tokens);
  void project_logits(const std::vector<int64_t>& rows);

  const model::Model& model_;
  PagedKvPool& kv_;
  ThreadPool& pool_;
  int64_t n_ctx_;
  int64_t row_multiple_;
  Scratch scratch_;
  std::vector<float> x_;
  std::vector<float> logits_;
};

}  // namespace edgellm::runtime
