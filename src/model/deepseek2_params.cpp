#include "model/deepseek2_params.h"

#include <cmath>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"

namespace edgellm::model {

namespace {

namespace key = gguf::key;
constexpr std::string_view kArch = "deepseek2";

std::string k(std::string_view suffix) { return gguf::arch_key(kArch, suffix); }

int64_t int_or(const gguf::GgufFile& f, std::string_view suffix, int64_t fallback) {
  const std::string name = k(suffix);
  if (!f.find(name)) return fallback;
  const int64_t v = f.get_int(name);
  if (v < 0 || v > (int64_t{1} << 31)) fail("model metadata: {} = {} is out of range", name, v);
  return v;
}

int64_t required_int(const gguf::GgufFile& f, std::string_view suffix) {
  if (!f.find(k(suffix))) fail("model metadata is missing key '{}'", k(suffix));
  return int_or(f, suffix, 0);
}

// YaRN's magnitude correction 0.1·m·ln(s) + 1 (1 when the context is not extended).
double yarn_mscale(double scale, double m) { return scale <= 1.0 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; }

// ln(1/freq_scale) as llama.cpp sees it: 0 without scaling.
double log_factor(const kernels::RopeParams& r) {
  return r.scaling == kernels::RopeScaling::None ? 0.0 : std::log(r.scaling_factor);
}

// rope.scaling.yarn_log_multiplier is written as 0.1·mscale_all_dim; llama.cpp divides it back.
double yarn_log_mul(const gguf::GgufFile& f) {
  return f.get_float_or(k(key::kRopeScalingYarnLogMul), 0.0) / 0.1;
}

}  // namespace

ModelConfig read_deepseek2_config(const gguf::GgufFile& f) {
  ModelConfig c = read_llama_style_config(f, kArch);
  kernels::RopeParams& r = c.rope;
  r.style = kernels::RopeStyle::Normal;  // llama.cpp: LLAMA_ROPE_TYPE_NORM for deepseek2
  if (!f.find(k(key::kRopeDimensionCount))) fail("model metadata is missing key '{}'", k(key::kRopeDimensionCount));
  // The factor on cos/sin, as llama.cpp derives it (llama_context: yarn_attn_factor). Our Rope
  // multiplies YaRN angles by (1 + 0.1 ln s) itself, as ggml does, so attn_factor excludes it.
  double cs = 1.0;
  if (r.scaling == kernels::RopeScaling::Yarn) {
    const double s = r.scaling_factor, log_mul = yarn_log_mul(f);
    if (log_mul != 0.0) {
      // DeepSeek-V2 writes mscale == mscale_all_dim; llama.cpp assumes so when it is not 1.
      const double mscale = log_mul != 1.0 ? log_mul : 1.0;
      cs = yarn_mscale(s, mscale) / yarn_mscale(s, log_mul);
    } else {
      cs = yarn_mscale(s, 1.0);
    }
    cs /= 1.0 + 0.1 * std::log(s);
  }
  r.attn_factor *= cs;  // rope.scaling.attn_factor (default 1) times the above
  return c;
}

Deepseek2Params read_deepseek2_params(const gguf::GgufFile& f, const ModelConfig& c) {
  Deepseek2Params p;
  MlaParams& a = p.mla;
  a.n_embd = c.n_embd;
  a.n_head = c.n_head;
  a.rms_eps = c.rms_eps;
  a.q_lora_rank = int_or(f, key::kQLoraRank, 0);
  a.kv_lora_rank = required_int(f, key::kKvLoraRank);
  if (a.kv_lora_rank == 0) fail("model metadata: {} must be positive", k(key::kKvLoraRank));
  a.head_dim_rope = c.rope.n_dims;
  // Current files describe the latent cache as an MQA head (key_length = kv_lora_rank + rope,
  // value_length = kv_lora_rank) and give the real head sizes in *_mla; legacy files (with
  // attn_kv_b) give the real head sizes in key_length / value_length.
  const bool has_mla_keys = f.find(k("attention.key_length_mla")) != nullptr;
  a.split_kv_b = has_mla_keys;
  const int64_t head_k = has_mla_keys ? required_int(f, "attention.key_length_mla") : c.head_dim_k;
  a.head_dim_v = has_mla_keys ? required_int(f, "attention.value_length_mla") : c.head_dim_v;
  a.head_dim_nope = head_k - a.head_dim_rope;
  if (a.head_dim_nope < 1 || a.head_dim_v < 1)
    fail("model metadata: deepseek2 head sizes (key {}, value {}) must exceed rope.dimension_count {}",
         head_k, a.head_dim_v, a.head_dim_rope);
  if (has_mla_keys && (c.head_dim_k != a.cache_width() || c.head_dim_v != a.kv_lora_rank || c.n_head_kv != 1))
    fail("model metadata: deepseek2 MLA expects head_count_kv 1, key_length {} and value_length {} "
         "(got {}, {}, {})", a.cache_width(), a.kv_lora_rank, c.n_head_kv, c.head_dim_k, c.head_dim_v);

  // Score scale, as llama.cpp's deepseek2 graph: (attn_factor·(1+0.1 ln s)·(1+0.1·log_mul·ln s))²
  // / sqrt(head_k), where attn_factor is the cos/sin factor before YaRN's own (1+0.1 ln s).
  const double ln_s = log_factor(c.rope);
  const double attn_factor_org = c.rope.attn_factor * (1.0 + 0.1 * ln_s);
  const double mscale = attn_factor_org * (1.0 + 0.1 * yarn_log_mul(f) * ln_s);
  a.kq_scale = static_cast<float>(mscale * mscale / std::sqrt(static_cast<double>(head_k)));

  p.n_ff = c.n_ff;
  p.n_dense_lead = int_or(f, key::kLeadingDenseBlockCount, 0);
  MoeParams& m = p.moe;
  m.n_embd = c.n_embd;
  m.n_expert = int_or(f, key::kExpertCount, 0);
  if (p.n_dense_lead >= c.n_layer || m.n_expert == 0) {
    if (p.n_dense_lead < c.n_layer) fail("model metadata: {} is missing or 0 but block {} is MoE", k(key::kExpertCount), p.n_dense_lead);
    return p;  // no MoE block
  }
  m.n_expert_used = required_int(f, key::kExpertUsedCount);
  m.n_ff_exp = required_int(f, key::kExpertFeedForwardLength);
  m.n_expert_shared = int_or(f, key::kExpertSharedCount, 0);
  if (m.n_expert_used < 1 || m.n_expert_used > m.n_expert || m.n_ff_exp < 1)
    fail("model metadata: {} = {} must be in 1..{} and {} positive", k(key::kExpertUsedCount),
         m.n_expert_used, m.n_expert, k(key::kExpertFeedForwardLength));
  m.n_group = int_or(f, key::kExpertGroupCount, 0);
  m.n_group_used = int_or(f, key::kExpertGroupUsedCount, 0);
  if (m.n_group > 1) {
    if (m.n_expert % m.n_group != 0 || m.n_group_used < 1 || m.n_group_used > m.n_group ||
        m.n_group_used * (m.n_expert / m.n_group) < m.n_expert_used)
      fail("model metadata: {} experts in {} groups, {} groups used, cannot route to {} experts",
           m.n_expert, m.n_group, m.n_group_used, m.n_expert_used);
  }
  m.norm_weights = f.get_bool_or(k(key::kExpertWeightsNorm), false);
  const double scale = f.get_float_or(k(key::kExpertWeightsScale), 0.0);
  if (!std::isfinite(scale) || scale < 0.0) fail("model metadata: {} = {} is invalid", k(key::kExpertWeightsScale), scale);
  m.weights_scale = scale == 0.0 ? 1.0f : static_cast<float>(scale);  // llama.cpp: 0 = unset
  const int64_t gating = int_or(f, key::kExpertGatingFunc, 1);
  if (gating == 1 || gating == 0) {
    m.gating = ExpertGating::Softmax;  // 0 (unset): llama.cpp's default for V2 files
  } else if (gating == 2) {
    m.gating = ExpertGating::Sigmoid;
  } else {
    fail("model metadata: {} = {} is not supported (1 softmax, 2 sigmoid)", k(key::kExpertGatingFunc), gating);
  }
  return p;
}

}  // namespace edgellm::model
