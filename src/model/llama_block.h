// The pre-norm transformer block of the Llama family, shared by the architectures that use it
// (llama, qwen2, ...):
//   x += Wo · attention(rope(Wq·n + bq), rope(Wk·n + bk), Wv·n + bv)   with n = rmsnorm(x)
//   x += Wdown · (silu(Wgate·m) ⊙ Wup·m)                                with m = rmsnorm(x)
// Biases are optional (Qwen2 has Q/K/V biases; Llama checkpoints with attention_bias have all
// four). RoPE style (normal / NeoX) comes from the model's Rope.
#pragma once

#include <vector>

#include "kernels/matmul.h"
#include "model/architecture.h"

namespace edgellm::model {

struct LlamaBlockWeights {
  std::vector<float> attn_norm;
  kernels::WeightMatrix wq, wk, wv, wo;
  std::vector<float> bq, bk, bv, bo;  // empty when the file has none
  std::vector<float> ffn_norm;
  kernels::WeightMatrix gate, up, down;
};

enum class QkvBias { Optional, Required };

// Loads blk.<index>.* with shapes from the config; throws naming any missing or misshapen tensor.
LlamaBlockWeights load_llama_block(const WeightLoader& weights, const ModelConfig& config,
                                   int index, QkvBias qkv_bias);

class LlamaBlock final : public Layer {
 public:
  LlamaBlock(const ModelConfig& config, LlamaBlockWeights weights);
  runtime::KvLayerShape kv_shape() const override;
  void forward(int index, float* x, LayerContext& ctx) const override;

 private:
  void forward_one(int index, float* x, LayerContext& ctx) const;
  void attend(int index, LayerContext& ctx, const float* q, const float* k, const float* v,
              float* attn) const;

  int64_t n_embd_, n_head_, n_head_kv_, head_dim_k_, head_dim_v_, n_ff_;
  float rms_eps_;
  LlamaBlockWeights w_;
  bool fused_ = false;  // every matrix has a SIMD matvec kernel: one token takes forward_one()
};

}  // namespace edgellm::model
