// GGUF architecture "deepseek2": DeepSeek-V2 / V2-Lite (and V3-style routing) with
// Multi-head Latent Attention and DeepSeekMoE, as llama.cpp defines the file:
//   x += MLA(rmsnorm(x))                                   (mla_attention.h)
//   x += FFN(rmsnorm(x))   dense SwiGLU for the first leading_dense_block_count blocks,
//                          routed + shared experts after   (moe_ffn.h)
// The KV cache holds kv_lora_rank + rope values per token per layer (the latent and the shared
// RoPE key); decode attends in latent space, prefill picks the cheaper order per batch.
#include <memory>
#include <optional>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "kernels/ops.h"
#include "model/architecture.h"
#include "model/deepseek2_params.h"
#include "model/hf_convert.h"
#include "model/mla_attention.h"
#include "model/moe_ffn.h"
#include "model/weights.h"
#include "runtime/scratch.h"
#include "runtime/thread_pool.h"

namespace edgellm::model {

std::unique_ptr<HfConverter> make_deepseek2_hf_converter();  // deepseek2_convert.cpp

namespace {

namespace tn = gguf::tensor;
using gguf::block_tensor;

// Scratch slots of the block (attention uses 2.., the MoE FFN 16..).
enum Slot : size_t { kNorm = 0, kBranch = 1, kDenseGate = 24, kDenseUp };

class Deepseek2Block final : public Layer {
 public:
  Deepseek2Block(const Deepseek2Params& p, std::vector<float> attn_norm, std::vector<float> ffn_norm,
                 MlaAttention attn, std::optional<SwigluWeights> dense, std::optional<MoeFfn> moe)
      : n_embd_(p.mla.n_embd),
        n_ff_(p.n_ff),
        eps_(p.mla.rms_eps),
        attn_norm_(std::move(attn_norm)),
        ffn_norm_(std::move(ffn_norm)),
        attn_(std::move(attn)),
        dense_(std::move(dense)),
        moe_(std::move(moe)) {}

  runtime::KvLayerShape kv_shape() const override { return {attn_.cache_width(), 0}; }

  void forward(int index, float* x, LayerContext& ctx) const override {
    const int64_t n = ctx.n_tokens;
    const auto sz = [n](int64_t width) { return static_cast<size_t>(n * width); };
    float* norm = ctx.scratch.get(kNorm, sz(n_embd_));
    float* branch = ctx.scratch.get(kBranch, sz(n_embd_));

    runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        kernels::rms_norm(x + t * n_embd_, attn_norm_.data(), norm + t * n_embd_, n_embd_, eps_);
    });
    attn_.forward(index, norm, branch, ctx, attn_.choose_path(ctx.pos0, n));
    // Residual add and the feed-forward norm in one pass over the tokens.
    runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
      kernels::add_inplace(x + t0 * n_embd_, branch + t0 * n_embd_, (t1 - t0) * n_embd_);
      for (int64_t t = t0; t < t1; ++t)
        kernels::rms_norm(x + t * n_embd_, ffn_norm_.data(), norm + t * n_embd_, n_embd_, eps_);
    });
    if (moe_) {
      moe_->forward(norm, n, branch, ctx.scratch, ctx.pool);
    } else {
      swiglu_ffn(*dense_, norm, n, branch, ctx.scratch.get(kDenseGate, sz(n_ff_)),
                 ctx.scratch.get(kDenseUp, sz(n_ff_)), ctx.pool);
    }
    runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
      kernels::add_inplace(x + t0 * n_embd_, branch + t0 * n_embd_, (t1 - t0) * n_embd_);
    });
  }

 private:
  int64_t n_embd_, n_ff_;
  float eps_;
  std::vector<float> attn_norm_, ffn_norm_;
  MlaAttention attn_;
  std::optional<SwigluWeights> dense_;
  std::optional<MoeFfn> moe_;
};

class Deepseek2Architecture final : public Architecture {
 public:
  std::string_view name() const override { return "deepseek2"; }

  ModelConfig read_config(const gguf::GgufFile& file) const override {
    return read_deepseek2_config(file);
  }

  std::unique_ptr<Layer> load_layer(const WeightLoader& w, const ModelConfig& c, int i) const override {
    const Deepseek2Params p = read_deepseek2_params(w.file(), c);
    std::vector<float> attn_norm = w.vector(block_tensor(i, tn::kAttnNorm), c.n_embd);
    std::vector<float> ffn_norm = w.vector(block_tensor(i, tn::kFfnNorm), c.n_embd);
    MlaAttention attn(p.mla, load_mla_weights(w, p.mla, i));
    std::optional<SwigluWeights> dense;
    std::optional<MoeFfn> moe;
    if (i < p.n_dense_lead) {
      dense = SwigluWeights{w.projection(block_tensor(i, tn::kFfnGate), c.n_ff, c.n_embd),
                            w.projection(block_tensor(i, tn::kFfnUp), c.n_ff, c.n_embd),
                            w.projection(block_tensor(i, tn::kFfnDown), c.n_embd, c.n_ff)};
    } else {
      moe.emplace(p.moe, load_moe_weights(w, p.moe, i));
    }
    return std::make_unique<Deepseek2Block>(p, std::move(attn_norm), std::move(ffn_norm),
                                            std::move(attn), std::move(dense), std::move(moe));
  }

  const HfConverter* hf_converter() const override { return converter_.get(); }

 private:
  std::unique_ptr<HfConverter> converter_ = make_deepseek2_hf_converter();
};

}  // namespace

std::unique_ptr<Architecture> make_deepseek2_architecture() {
  return std::make_unique<Deepseek2Architecture>();
}

}  // namespace edgellm::model
