// One sequence being run through a model: the KV cache, the activations and the forward pass.
// eval() takes a batch of tokens (a whole prompt in one matrix-matrix pass, or one token while
// decoding) and returns logits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/scratch.h"

namespace edgellm::model {
class Model;
}

namespace edgellm::runtime {

class ThreadPool;
class MatmulObserver;

struct SessionParams {
  int64_t n_ctx = 0;           // 0: the model's training context, capped at 4096
  KvType kv_type = KvType::F16;
  int64_t max_batch = 512;     // longer batches are run in pieces of this many tokens
};

class Session {
 public:
  Session(const model::Model& model, SessionParams params, ThreadPool& pool);

  // Runs tokens at positions n_past() .. n_past()+n-1 and appends them to the cache. Returns the
  // logits of the last n_logits tokens (n_logits × n_vocab, row-major; default: the last token).
  // Throws edgellm::Error, before changing any state, for an empty batch, an id outside the
  // vocabulary, or when the tokens do not fit in the remaining context.
  std::span<const float> eval(std::span<const int32_t> tokens, int64_t n_logits = 1);

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return kv_.n_ctx(); }
  int64_t n_vocab() const;
  const KvCache& kv_cache() const { return kv_; }
  void reset() { n_past_ = 0; }  // forget the sequence (the cache is overwritten)
  // Every weight matmul of later eval() calls reports its input to `observer` (nullptr: none).
  void set_matmul_observer(MatmulObserver* observer) { observer_ = observer; }

 private:
  void forward_batch(std::span<const int32_t> tokens, int64_t n_logits, float* logits);

  const model::Model& model_;
  ThreadPool& pool_;
  SessionParams params_;
  KvCache kv_;
  Scratch scratch_;
  std::vector<float> x_;       // residual stream, n_tokens × n_embd
  std::vector<float> logits_;
  int64_t n_past_ = 0;
  MatmulObserver* observer_ = nullptr;
};

}  // namespace edgellm::runtime
