#include "model/llama_block.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "kernels/ops.h"
#include "model/grouped_matmul.h"
#include "model/moe_ffn.h"
#include "model/weights.h"
#include "runtime/attention.h"
#include "runtime/batch_attention.h"
#include "runtime/fused_matvec.h"
#include "runtime/matmul_observer.h"
#include "runtime/scratch.h"
#include "runtime/thread_pool.h"

namespace edgellm::model {

namespace {

namespace tn = gguf::tensor;
using gguf::block_tensor;

// Scratch slots of this block.
enum Slot : size_t { kNorm, kQ, kK, kV, kAttn, kProj, kGate, kUp, kActivations };

// Tokens per piece of the feed-forward of a long batch: kernels::matmul's token block.
constexpr int64_t kFfnTokens = 64;

std::vector<float> bias_or_empty(const WeightLoader& w, int i, std::string_view stem, int64_t n) {
  auto b = w.optional_vector(block_tensor(i, stem, "bias"), n);
  return b ? std::move(*b) : std::vector<float>{};
}

// Lets an observer (the imatrix collector) see a matmul's input; a no-op without one.
// n_rows: the rows of x (default: the batch's tokens).
void observe(const LayerContext& ctx, int layer, std::string_view stem, const float* x, int64_t cols,
             int64_t n_rows = -1) {
  if (ctx.observer)
    ctx.observer->observe(block_tensor(layer, stem), x, n_rows < 0 ? ctx.n_tokens : n_rows, cols);
}

void add_bias_if_any(float* y, const std::vector<float>& b, int64_t n_tokens) {
  if (!b.empty()) kernels::add_bias(y, b.data(), n_tokens, static_cast<int64_t>(b.size()));
}

}  // namespace

LlamaBlockWeights load_llama_block(const WeightLoader& w, const ModelConfig& c, int i,
                                   QkvBias qkv_bias) {
  const int64_t q_width = c.n_head * c.head_dim_k;
  const int64_t k_width = c.n_head_kv * c.head_dim_k;
  const int64_t v_width = c.n_head_kv * c.head_dim_v;
  const int64_t o_width = c.n_head * c.head_dim_v;
  LlamaBlockWeights b;
  b.attn_norm = w.vector(block_tensor(i, tn::kAttnNorm), c.n_embd);
  b.wq = w.projection(block_tensor(i, tn::kAttnQ), q_width, c.n_embd);
  b.wk = w.projection(block_tensor(i, tn::kAttnK), k_width, c.n_embd);
  b.wv = w.projection(block_tensor(i, tn::kAttnV), v_width, c.n_embd);
  b.wo = w.projection(block_tensor(i, tn::kAttnOutput), c.n_embd, o_width);
  if (qkv_bias == QkvBias::Required) {
    b.bq = w.vector(block_tensor(i, tn::kAttnQ, "bias"), q_width);
    b.bk = w.vector(block_tensor(i, tn::kAttnK, "bias"), k_width);
    b.bv = w.vector(block_tensor(i, tn::kAttnV, "bias"), v_width);
  } else {
    b.bq = bias_or_empty(w, i, tn::kAttnQ, q_width);
    b.bk = bias_or_empty(w, i, tn::kAttnK, k_width);
    b.bv = bias_or_empty(w, i, tn::kAttnV, v_width);
  }
  b.bo = bias_or_empty(w, i, tn::kAttnOutput, c.n_embd);
  b.ffn_norm = w.vector(block_tensor(i, tn::kFfnNorm), c.n_embd);
  b.gate = w.projection(block_tensor(i, tn::kFfnGate), c.n_ff, c.n_embd);
  b.up = w.projection(block_tensor(i, tn::kFfnUp), c.n_ff, c.n_embd);
  b.down = w.projection(block_tensor(i, tn::kFfnDown), c.n_embd, c.n_ff);
  return b;
}

LlamaBlock::LlamaBlock(const ModelConfig& c, LlamaBlockWeights weights)
    : n_embd_(c.n_embd),
      n_head_(c.n_head),
      n_head_kv_(c.n_head_kv),
      head_dim_k_(c.head_dim_k),
      head_dim_v_(c.head_dim_v),
      n_ff_(c.n_ff),
      rms_eps_(c.rms_eps),
      w_(std::move(weights)) {
  fused_ = true;
  for (const kernels::WeightMatrix* m : {&w_.wq, &w_.wk, &w_.wv, &w_.wo, &w_.gate, &w_.up, &w_.down})
    fused_ = fused_ && runtime::has_matvec_kernel(*m);
}

runtime::KvLayerShape LlamaBlock::kv_shape() const {
  return {n_head_kv_ * head_dim_k_, n_head_kv_ * head_dim_v_};
}

// One token: each group of matrices reading the same input (Q/K/V; gate/up; Wo; down) is one
// fused dispatch, with the biases, SwiGLU and residual adds done by the chunk that produced the
// rows (runtime/fused_matvec.h). Same arithmetic as the batch path below.
void LlamaBlock::forward_one(int index, float* x, LayerContext& ctx) const {
  const int64_t q_width = n_head_ * head_dim_k_;
  const int64_t k_width = n_head_kv_ * head_dim_k_;
  const int64_t v_width = n_head_kv_ * head_dim_v_;
  const int64_t o_width = n_head_ * head_dim_v_;
  float* norm = ctx.scratch.get(kNorm, static_cast<size_t>(n_embd_));
  float* q = ctx.scratch.get(kQ, static_cast<size_t>(q_width));
  float* k = ctx.scratch.get(kK, static_cast<size_t>(k_width));
  float* v = ctx.scratch.get(kV, static_cast<size_t>(v_width));
  float* attn = ctx.scratch.get(kAttn, static_cast<size_t>(o_width));
  float* proj = ctx.scratch.get(kProj, static_cast<size_t>(n_embd_));
  float* gate = ctx.scratch.get(kGate, static_cast<size_t>(n_ff_));
  float* up = ctx.scratch.get(kUp, static_cast<size_t>(n_ff_));
  runtime::QuantizedRow row;

  // y[b, e) = W·row (+ bias) for the rows of one chunk.
  const auto project = [&](const kernels::WeightMatrix& w, const std::vector<float>& bias, float* y) {
    return [&w, &bias, y, &row](int64_t b, int64_t e) {
      runtime::matvec_rows(w, row, b, e, y);
      if (!bias.empty()) kernels::add_inplace(y + b, bias.data() + b, e - b);
    };
  };
  // ... and x[b, e) += y[b, e) (the residual add of the output projections).
  const auto project_add = [&](const kernels::WeightMatrix& w, const std::vector<float>& bias) {
    return [&w, &bias, x, proj, &row](int64_t b, int64_t e) {
      runtime::matvec_rows(w, row, b, e, proj);
      if (!bias.empty()) kernels::add_inplace(proj + b, bias.data() + b, e - b);
      kernels::add_inplace(x + b, proj + b, e - b);
    };
  };

  kernels::rms_norm(x, w_.attn_norm.data(), norm, n_embd_, rms_eps_);
  observe(ctx, index, tn::kAttnQ, norm, n_embd_);
  observe(ctx, index, tn::kAttnK, norm, n_embd_);
  observe(ctx, index, tn::kAttnV, norm, n_embd_);
  row.prepare(norm, n_embd_, {&w_.wq, &w_.wk, &w_.wv});
  {
    auto pq = project(w_.wq, w_.bq, q);
    auto pk = project(w_.wk, w_.bk, k);
    auto pv = project(w_.wv, w_.bv, v);
    const runtime::RowSegment qkv[] = {runtime::RowSegment::of(w_.wq.rows, w_.wq.row_stride(), pq),
                                       runtime::RowSegment::of(w_.wk.rows, w_.wk.row_stride(), pk),
                                       runtime::RowSegment::of(w_.wv.rows, w_.wv.row_stride(), pv)};
    runtime::run_row_segments(qkv, ctx.pool);
  }
  ctx.rope.apply(q, n_head_, head_dim_k_, ctx.rope_cos, ctx.rope_sin);
  ctx.rope.apply(k, n_head_kv_, head_dim_k_, ctx.rope_cos, ctx.rope_sin);
  attend(index, ctx, q, k, v, attn);

  observe(ctx, index, tn::kAttnOutput, attn, o_width);
  row.prepare(attn, o_width, {&w_.wo});
  {
    auto po = project_add(w_.wo, w_.bo);
    const runtime::RowSegment o = runtime::RowSegment::of(w_.wo.rows, w_.wo.row_stride(), po);
    runtime::run_row_segments({&o, 1}, ctx.pool);
  }

  kernels::rms_norm(x, w_.ffn_norm.data(), norm, n_embd_, rms_eps_);
  observe(ctx, index, tn::kFfnGate, norm, n_embd_);
  observe(ctx, index, tn::kFfnUp, norm, n_embd_);
  row.prepare(norm, n_embd_, {&w_.gate, &w_.up});
  {
    auto gate_up = [&](int64_t b, int64_t e) {
      runtime::matvec_rows(w_.gate, row, b, e, gate);
      runtime::matvec_rows(w_.up, row, b, e, up);
      kernels::swiglu(gate + b, up + b, e - b);
    };
    const runtime::RowSegment s = runtime::RowSegment::of(
        n_ff_, w_.gate.row_stride() + w_.up.row_stride(), gate_up);
    runtime::run_row_segments({&s, 1}, ctx.pool);
  }
  observe(ctx, index, tn::kFfnDown, gate, n_ff_);
  row.prepare(gate, n_ff_, {&w_.down});
  {
    const std::vector<float> no_bias;
    auto pd = project_add(w_.down, no_bias);
    const runtime::RowSegment d = runtime::RowSegment::of(w_.down.rows, w_.down.row_stride(), pd);
    runtime::run_row_segments({&d, 1}, ctx.pool);
  }
}

void LlamaBlock::attend(int index, LayerContext& ctx, const float* q, const float* k,
                        const float* v, float* attn) const {
  const runtime::AttentionShape shape{n_head_, n_head_kv_, head_dim_k_, head_dim_v_,
                                      1.0f / std::sqrt(static_cast<float>(head_dim_k_))};
  if (ctx.batch) {
    ctx.batch->attend(index, shape, q, k, v, attn);
  } else {
    ctx.kv.store(index, ctx.pos0, ctx.n_tokens, k, v);
    runtime::attention(shape, ctx.kv, index, q, ctx.pos0, ctx.n_tokens, attn, ctx.pool);
  }
}

void LlamaBlock::forward(int index, float* x, LayerContext& ctx) const {
  const int64_t n = ctx.n_tokens;
  if (n == 1 && fused_) {
    forward_one(index, x, ctx);
    return;
  }
  const auto sz = [n](int64_t width) { return static_cast<size_t>(n * width); };
  const int64_t q_width = n_head_ * head_dim_k_;
  const int64_t k_width = n_head_kv_ * head_dim_k_;
  const int64_t v_width = n_head_kv_ * head_dim_v_;
  const int64_t o_width = n_head_ * head_dim_v_;
  float* norm = ctx.scratch.get(kNorm, sz(n_embd_));
  float* q = ctx.scratch.get(kQ, sz(q_width));
  float* k = ctx.scratch.get(kK, sz(k_width));
  float* v = ctx.scratch.get(kV, sz(v_width));
  float* attn = ctx.scratch.get(kAttn, sz(o_width));
  float* proj = ctx.scratch.get(kProj, sz(n_embd_));

  // Attention: projections, RoPE on Q and K, cache, causal GQA, output projection, residual.
  runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      kernels::rms_norm(x + t * n_embd_, w_.attn_norm.data(), norm + t * n_embd_, n_embd_, rms_eps_);
  });
  observe(ctx, index, tn::kAttnQ, norm, n_embd_);
  observe(ctx, index, tn::kAttnK, norm, n_embd_);
  observe(ctx, index, tn::kAttnV, norm, n_embd_);
  const MatmulTask qkv[] = {{w_.wq, norm, n_embd_, n, q, q_width},
                            {w_.wk, norm, n_embd_, n, k, k_width},
                            {w_.wv, norm, n_embd_, n, v, v_width}};
  grouped_matmul(qkv, ctx.scratch, kActivations, ctx.pool);  // one dispatch, norm quantized once
  const int64_t pairs = ctx.rope.n_pairs();
  runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
    add_bias_if_any(q + t0 * q_width, w_.bq, t1 - t0);
    add_bias_if_any(k + t0 * k_width, w_.bk, t1 - t0);
    add_bias_if_any(v + t0 * v_width, w_.bv, t1 - t0);
    for (int64_t t = t0; t < t1; ++t) {
      const float* cos = ctx.rope_cos + t * pairs;
      const float* sin = ctx.rope_sin + t * pairs;
      ctx.rope.apply(q + t * q_width, n_head_, head_dim_k_, cos, sin);
      ctx.rope.apply(k + t * k_width, n_head_kv_, head_dim_k_, cos, sin);
    }
  });
  attend(index, ctx, q, k, v, attn);
  observe(ctx, index, tn::kAttnOutput, attn, o_width);
  kernels::matmul(w_.wo, attn, n, proj, ctx.pool);
  // Residual add and the feed-forward norm in one pass over the tokens.
  runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
    add_bias_if_any(proj + t0 * n_embd_, w_.bo, t1 - t0);
    kernels::add_inplace(x + t0 * n_embd_, proj + t0 * n_embd_, (t1 - t0) * n_embd_);
    for (int64_t t = t0; t < t1; ++t)
      kernels::rms_norm(x + t * n_embd_, w_.ffn_norm.data(), norm + t * n_embd_, n_embd_, rms_eps_);
  });

  // Feed-forward: SwiGLU, residual. Long batches go through in pieces of kFfnTokens tokens, so
  // the n_ff-wide gate/up activations take an eighth of the memory of a 512-token prefill (the
  // panels are read once per 4 tokens anyway: same arithmetic; qwen2-0.5b Q4_0 pp512 peak RSS
  // 386.5 -> 383.6 MiB at 64 instead of 128, pp512 0.77 / 0.71-0.75 of the int8 peak either way).
  observe(ctx, index, tn::kFfnGate, norm, n_embd_);
  observe(ctx, index, tn::kFfnUp, norm, n_embd_);
  const int64_t piece = std::min(n, kFfnTokens);
  float* gate = ctx.scratch.get(kGate, static_cast<size_t>(piece * n_ff_));
  float* up = ctx.scratch.get(kUp, static_cast<size_t>(piece * n_ff_));
  for (int64_t t0 = 0; t0 < n; t0 += piece) {
    const int64_t nt = std::min(piece, n - t0);
    const MatmulTask gate_up[] = {{w_.gate, norm + t0 * n_embd_, n_embd_, nt, gate, n_ff_},
                                  {w_.up, norm + t0 * n_embd_, n_embd_, nt, up, n_ff_}};
    grouped_matmul(gate_up, ctx.scratch, kActivations, ctx.pool);
    swiglu_rows(gate, up, nt, n_ff_, ctx.pool);
    observe(ctx, index, tn::kFfnDown, gate, n_ff_, nt);
    kernels::matmul(w_.down, gate, nt, proj + t0 * n_embd_, ctx.pool);
  }
  runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
    kernels::add_inplace(x + t0 * n_embd_, proj + t0 * n_embd_, (t1 - t0) * n_embd_);
  });
}

}  // namespace edgellm::model
