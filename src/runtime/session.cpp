// The forward pass, top to bottom: embed the tokens, run every block on the residual stream,
// normalize, project the requested positions to vocabulary logits.
#include "runtime/session.h"

#include <algorithm>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/model.h"
#include "runtime/fused_matvec.h"
#include "runtime/matmul_observer.h"

namespace edgellm::runtime {

namespace {

// Scratch slots owned by the session; blocks use their own slot numbers above these.
enum SessionSlot : size_t { kRopeCos = 32, kRopeSin, kFinalNorm };

std::vector<KvLayerShape> kv_shapes(const model::Model& m) {
  std::vector<KvLayerShape> shapes;
  for (const auto& layer : m.layers()) shapes.push_back(layer->kv_shape());
  return shapes;
}

int64_t pick_ctx(const model::Model& m, int64_t requested) {
  if (requested < 0) fail("context size {} must not be negative", requested);
  if (requested == 0) return std::min<int64_t>(m.config().n_ctx_train, 4096);
  return requested;
}

}  // namespace

Session::Session(const model::Model& model, SessionParams params, ThreadPool& pool)
    : model_(model),
      pool_(pool),
      params_(params),
      kv_(pick_ctx(model, params.n_ctx), kv_shapes(model), params.kv_type) {
  if (params_.max_batch <= 0) fail("session: max_batch {} must be positive", params_.max_batch);
}

int64_t Session::n_vocab() const { return model_.config().n_vocab; }

std::span<const float> Session::eval(std::span<const int32_t> tokens, int64_t n_logits) {
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t n_vocab = model_.config().n_vocab;
  if (n == 0) fail("eval: empty batch of tokens");
  if (n_logits < 0 || n_logits > n) fail("eval: {} logit rows requested for {} tokens", n_logits, n);
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = tokens[static_cast<size_t>(i)];
    if (id < 0 || id >= n_vocab)
      fail("token id {} at index {} is out of range: the vocabulary has {} tokens", id, i, n_vocab);
  }
  if (n_past_ + n > kv_.n_ctx())
    fail("context is full: {} tokens already in the context + {} new exceed the context size {}",
         n_past_, n, kv_.n_ctx());

  logits_.resize(static_cast<size_t>(n_logits * n_vocab));
  for (int64_t begin = 0; begin < n; begin += params_.max_batch) {
    const int64_t count = std::min(params_.max_batch, n - begin);
    // Logit rows wanted from this piece: those among the last n_logits tokens overall.
    const int64_t first_wanted = n - n_logits;
    const int64_t piece_logits = std::max<int64_t>(0, begin + count - std::max(begin, first_wanted));
    float* out = piece_logits == 0
                     ? nullptr
                     : logits_.data() + (begin + count - piece_logits - first_wanted) * n_vocab;
    forward_batch(tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)),
                  piece_logits, out);
  }
  return logits_;
}

void Session::forward_batch(std::span<const int32_t> tokens, int64_t n_logits, float* logits) {
  const model::ModelConfig& c = model_.config();
  const auto n = static_cast<int64_t>(tokens.size());
  const int64_t n_embd = c.n_embd;

  // 1. Token embeddings (rows of token_embd, dequantized).
  x_.resize(static_cast<size_t>(n * n_embd));
  for (int64_t t = 0; t < n; ++t)
    kernels::dequantize_weight_row(model_.token_embedding(), tokens[static_cast<size_t>(t)],
                                   x_.data() + t * n_embd);

  // 2. RoPE angles of this batch's positions, shared by all blocks.
  const kernels::Rope& rope = model_.rope();
  const auto n_angles = static_cast<size_t>(n * rope.n_pairs());
  float* cos = scratch_.get(kRopeCos, n_angles);
  float* sin = scratch_.get(kRopeSin, n_angles);
  rope.angles(n_past_, n, cos, sin);

  // 3. The blocks, each updating the residual stream in place.
  model::LayerContext ctx{pool_, kv_, scratch_, rope, cos, sin, n_past_, n, observer_};
  const auto& layers = model_.layers();
  for (size_t i = 0; i < layers.size(); ++i) layers[i]->forward(static_cast<int>(i), x_.data(), ctx);
  n_past_ += n;

  // 4. Final norm and LM head for the last n_logits tokens.
  if (n_logits == 0) return;
  const int64_t first = n - n_logits;
  float* normed = scratch_.get(kFinalNorm, static_cast<size_t>(n_logits * n_embd));
  for (int64_t t = 0; t < n_logits; ++t)
    kernels::rms_norm(x_.data() + (first + t) * n_embd, model_.output_norm().data(),
                      normed + t * n_embd, n_embd, c.rms_eps);
  if (observer_)
    observer_->observe(c.tied_embeddings ? gguf::tensor::kTokenEmbedding : gguf::tensor::kOutput,
                       normed, n_logits, n_embd);
  // Decoding: the vocabulary projection (often the largest matrix) split on demand over the
  // threads, so a slowed thread does not hold the others up (same numerics as matmul).
  if (n_logits == 1 && has_matvec_kernel(model_.output())) {
    fused_matvec(model_.output(), normed, logits, pool_);
  } else {
    kernels::matmul(model_.output(), normed, n_logits, logits, pool_);
  }
}

}  // namespace edgellm::runtime
