// Multi-head Latent Attention (DeepSeek-V2, arXiv 2405.04434 §2.1) over a cache that holds only
// the compressed latent c (kv_lora_rank) and the shared RoPE key k_pe per token:
//   q_h      = W_Q x (or W_QB·rmsnorm(W_QA x)), split into q_nope_h | q_pe_h (RoPE on q_pe_h)
//   [c|k_pe] = W_KVA x;  c = rmsnorm(c);  k_pe = RoPE(k_pe)         -> cache row [c | k_pe]
//   score    = kq_scale · (q_nope_h·W_UK_h c_p + q_pe_h·k_pe_p)
//   o_h      = W_UV_h Σ_p softmax(score)_p c_p;   out = W_O [o_1 .. o_H]
// Two equivalent evaluation orders:
//   Absorbed (decode): q_nope_h is moved into latent space once per token (W_UK_hᵀ q_nope_h),
//     attention runs over the cached rows directly as one shared "KV head" of width
//     kv_lora_rank + rope, and W_UV_h is applied to the latent result after attention. Per
//     cached token the cost is H·(2·kv_lora_rank + rope), independent of head sizes.
//   Decompressed (prefill): every cached latent is expanded to per-head keys and values
//     (W_UK_h c_p, W_UV_h c_p) and ordinary attention runs with the small head sizes, which is
//     cheaper when the batch is long enough to amortize the expansion.
// W_UK / W_UV come from attn_k_b (stored transposed, [kv_lora_rank × nope] per head) and
// attn_v_b, or from the legacy attn_kv_b rows; both orientations are read in place.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/matmul.h"
#include "model/architecture.h"
#include "model/deepseek2_params.h"

namespace edgellm::model {

class WeightLoader;

struct MlaWeights {
  kernels::WeightMatrix wq;              // n_head·(nope+rope) × n_embd, or empty (low-rank q)
  kernels::WeightMatrix wq_a, wq_b;      // q_lora_rank × n_embd, n_head·(nope+rope) × q_lora_rank
  std::vector<float> q_a_norm;
  kernels::WeightMatrix wkv_a;           // (kv_lora_rank + rope) × n_embd
  std::vector<float> kv_a_norm;          // kv_lora_rank
  std::vector<kernels::WeightMatrix> uk; // per head: W_UK (nope × kv_lora) or its transpose
  bool uk_transposed = true;             // uk[h] is [kv_lora × nope] (attn_k_b)
  std::vector<kernels::WeightMatrix> uv; // per head: W_UV (v × kv_lora)
  kernels::WeightMatrix wo;              // n_embd × n_head·v
};

// Loads blk.<layer>'s attention tensors (split or legacy form, as params.split_kv_b says);
// throws naming a missing or misshapen tensor.
MlaWeights load_mla_weights(const WeightLoader& w, const MlaParams& params, int layer);

enum class MlaPath { Absorbed, Decompressed };

class MlaAttention {
 public:
  MlaAttention(const MlaParams& params, MlaWeights weights);

  // Floats per token this layer keeps in the cache: kv_lora_rank + rope.
  int64_t cache_width() const { return p_.cache_width(); }

  // The cheaper order for a batch of n_tokens after pos0 cached tokens (a multiply-add count
  // model calibrated on this implementation; see docs/DEEPSEEK2.md).
  MlaPath choose_path(int64_t pos0, int64_t n_tokens) const;

  // x: ctx.n_tokens rows of n_embd (normalized input); out: ctx.n_tokens rows of n_embd (the
  // attention output after W_O). Appends this batch's cache rows to layer `layer` of ctx.kv, or
  // hands them to ctx.batch (multi-sequence steps: each sequence then takes its own cheaper
  // order by choose_path, and `path` is ignored).
  void forward(int layer, const float* x, float* out, LayerContext& ctx, MlaPath path) const;

 private:
  // Columns [col, col + n_cols) of the cached rows [0, n_pos) as F32 rows (ctx.kv's, or one
  // sequence's of a batch).
  using KeyReader = std::function<void(int64_t n_pos, int64_t col, int64_t n_cols, float* out)>;

  // Per token and head [W_UKᵀ q_nope | q_pe] (width kv_lora_rank + rope, like a cache row), n
  // tokens of q into qw.
  void absorb_queries(const float* q, int64_t n, float* qw, LayerContext& ctx) const;
  // o_h = W_UV_h · ol_h for n tokens and every head (ol: n × H × kv_lora_rank).
  void values_from_latent(const float* ol, int64_t n, float* o, LayerContext& ctx) const;
  void attend_absorbed(int layer, const float* q, float* o, LayerContext& ctx) const;
  // n tokens at positions pos0.. whose cache rows (with every earlier one) `read` returns.
  void attend_decompressed(const float* q, int64_t n, int64_t pos0, const KeyReader& read, float* o,
                           LayerContext& ctx) const;
  // A multi-sequence step through ctx.batch: absorbed or decompressed per sequence.
  void attend_batch(int layer, const float* q, const float* kv, float* o, LayerContext& ctx) const;

  MlaParams p_;
  MlaWeights w_;
};

}  // namespace edgellm::model
