// Hyperparameters of GGUF architecture "deepseek2" (DeepSeek-V2 / V2-Lite / V3-style files)
// beyond the shared ModelConfig, read from llama.cpp's keys:
//   - Multi-head Latent Attention: q_lora_rank (0 = full-rank attn_q), kv_lora_rank, the
//     per-head sizes (key_length_mla / value_length_mla in current files; key_length /
//     value_length in legacy attn_kv_b files), the shared RoPE key width rope.dimension_count,
//     and the attention score scale with DeepSeek's YaRN mscale folded in exactly as llama.cpp
//     computes it;
//   - DeepSeekMoE: routed experts (count, top-k, FFN width, gating function, optional group
//     limit and expert bias), shared experts, and leading_dense_block_count dense blocks.
#pragma once

#include <cstdint>

#include "model/model_config.h"

namespace edgellm::gguf {
class GgufFile;
}

namespace edgellm::model {

struct MlaParams {
  int64_t n_embd = 0;
  int64_t n_head = 0;
  int64_t q_lora_rank = 0;    // 0: queries come from attn_q directly
  int64_t kv_lora_rank = 0;   // width of the cached latent
  int64_t head_dim_nope = 0;  // per-head key width without RoPE (qk_nope_head_dim)
  int64_t head_dim_rope = 0;  // shared RoPE key width (qk_rope_head_dim)
  int64_t head_dim_v = 0;     // per-head value width
  float kq_scale = 0.0f;      // multiplier of q·k (1/sqrt(nope+rope) times DeepSeek's mscale²)
  float rms_eps = 1e-6f;
  bool split_kv_b = true;     // attn_k_b + attn_v_b (current files) or legacy attn_kv_b

  int64_t head_dim_k() const { return head_dim_nope + head_dim_rope; }
  int64_t cache_width() const { return kv_lora_rank + head_dim_rope; }  // per token per layer
};

enum class ExpertGating { Softmax, Sigmoid };

struct MoeParams {
  int64_t n_embd = 0;
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;    // top-k
  int64_t n_expert_shared = 0;  // shared experts, fused into one FFN of n_shared·n_ff_exp
  int64_t n_ff_exp = 0;
  int64_t n_group = 0;          // > 1: group-limited routing over n_group equal groups
  int64_t n_group_used = 0;
  bool norm_weights = false;    // renormalize the top-k weights to sum 1
  float weights_scale = 1.0f;   // then multiply them by this
  ExpertGating gating = ExpertGating::Softmax;
};

struct Deepseek2Params {
  MlaParams mla;
  MoeParams moe;
  int64_t n_dense_lead = 0;  // blocks 0 .. n_dense_lead-1 use a dense SwiGLU FFN of n_ff
  int64_t n_ff = 0;
};

// The shared config of a deepseek2 file: llama-style keys, "normal" (adjacent pair) RoPE over
// rope.dimension_count, and the RoPE magnitude llama.cpp uses (YaRN with mscale /
// mscale_all_dim from rope.scaling.yarn_log_multiplier). Throws naming a bad key.
ModelConfig read_deepseek2_config(const gguf::GgufFile& file);

// The architecture-specific parameters; throws edgellm::Error naming a missing or
// inconsistent key.
Deepseek2Params read_deepseek2_params(const gguf::GgufFile& file, const ModelConfig& config);

}  // namespace edgellm::model
