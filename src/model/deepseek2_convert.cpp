// DeepseekV2ForCausalLM checkpoints -> GGUF "deepseek2" as current llama.cpp writes it:
// kv_b_proj split per head into attn_k_b (W_UK transposed, {nope, kv_lora_rank, n_head}) and
// attn_v_b ({kv_lora_rank, v, n_head}); per-expert matrices stacked into ffn_*_exps
// ({n_embd, n_ff_exp, n_expert} etc.); router weights kept F32; the MLA cache described as one
// KV head of key_length = kv_lora_rank + rope and value_length = kv_lora_rank, with the real
// head sizes in key_length_mla / value_length_mla. No Q/K row permutation: DeepSeek's RoPE
// already rotates adjacent pairs, which is llama.cpp's "normal" RoPE for this architecture.
//
// Where llama.cpp's reading of a key differs from the checkpoint's own modeling code, the
// values written are the ones under which llama.cpp (and edgellm) compute the checkpoint's
// function (see docs/DEEPSEEK2.md): q_lora_rank 0 is written when queries are full-rank (so
// that files of any depth load), and V2's "normalize or scale" routing becomes scale 1.
#include <cmath>
#include <string>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "model/hf_convert.h"

namespace edgellm::model {

namespace {

namespace key = gguf::key;
namespace tn = gguf::tensor;
using nlohmann::json;
constexpr std::string_view kArch = "deepseek2";
constexpr std::string_view kHfClass = "DeepseekV2ForCausalLM";

std::string hf_string_or(const json& c, const char* k, const std::string& fallback) {
  if (!c.contains(k) || c[k].is_null()) return fallback;
  if (!c[k].is_string()) fail("config.json: '{}' is not a string", k);
  return c[k].get<std::string>();
}

// A count that may be 0 (hf_int requires a positive value).
int64_t hf_count_or(const json& c, const char* k, int64_t fallback) {
  if (!c.contains(k) || c[k].is_null()) return fallback;
  if (!c[k].is_number_integer() || c[k].get<int64_t>() < 0 || c[k].get<int64_t>() > (int64_t{1} << 31))
    fail("config.json: '{}' must be a non-negative integer", k);
  return c[k].get<int64_t>();
}

// "model.layers.<N>.<rest>" -> N and rest; false for other names.
bool split_layer(std::string_view n, int& layer, std::string_view& rest) {
  constexpr std::string_view prefix = "model.layers.";
  if (!n.starts_with(prefix)) return false;
  n.remove_prefix(prefix.size());
  const size_t dot = n.find('.');
  if (dot == 0 || dot == std::string_view::npos || dot > 6) return false;
  layer = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (n[i] < '0' || n[i] > '9') return false;
    layer = layer * 10 + (n[i] - '0');
  }
  rest = n.substr(dot + 1);
  return true;
}

class Deepseek2HfConverter final : public HfConverter {
 public:
  void write_metadata(const json& c, gguf::GgufWriter& w) const override {
    const auto u32 = [&](std::string_view suffix, int64_t v) {
      w.set_u32(gguf::arch_key(kArch, suffix), static_cast<uint32_t>(v));
    };
    const auto f32 = [&](std::string_view suffix, double v) {
      w.set_f32(gguf::arch_key(kArch, suffix), static_cast<float>(v));
    };
    if (hf_string_or(c, "hidden_act", "silu") != "silu") fail("config.json: hidden_act {} is not supported (only silu)", c["hidden_act"].dump());
    if (hf_bool_or(c, "attention_bias", false)) fail("config.json: attention_bias = true is not supported by GGUF deepseek2");
    const int64_t n_layer = hf_int(c, "num_hidden_layers");
    const int64_t kv_lora = hf_int_or(c, "kv_lora_rank", 512);
    const int64_t rope = hf_int(c, "qk_rope_head_dim"), nope = hf_int(c, "qk_nope_head_dim");
    const int64_t v_dim = hf_int(c, "v_head_dim");
    if (rope % 2 != 0) fail("config.json: qk_rope_head_dim {} must be even", rope);

    u32(key::kVocabSize, hf_int(c, "vocab_size"));
    u32(key::kContextLength, hf_int(c, "max_position_embeddings"));
    u32(key::kEmbeddingLength, hf_int(c, "hidden_size"));
    u32(key::kBlockCount, n_layer);
    u32(key::kFeedForwardLength, hf_int(c, "intermediate_size"));
    u32(key::kHeadCount, hf_int(c, "num_attention_heads"));
    u32(key::kHeadCountKv, 1);  // MLA with absorption is MQA over the latent
    f32(key::kRopeFreqBase, hf_float_or(c, "rope_theta", 10000.0));
    f32(key::kRmsEpsilon, hf_float_or(c, "rms_norm_eps", 1e-6));
    u32(key::kQLoraRank, hf_count_or(c, "q_lora_rank", 0));
    u32(key::kKvLoraRank, kv_lora);
    u32(key::kKeyLength, kv_lora + rope);
    u32(key::kValueLength, kv_lora);
    u32("attention.key_length_mla", nope + rope);
    u32("attention.value_length_mla", v_dim);
    u32(key::kRopeDimensionCount, rope);

    // DeepSeekMoE.
    const bool has_moe = c.contains("n_routed_experts") && !c["n_routed_experts"].is_null();
    u32(key::kLeadingDenseBlockCount, hf_count_or(c, "first_k_dense_replace", has_moe ? 0 : n_layer));
    u32(key::kExpertFeedForwardLength, hf_int_or(c, "moe_intermediate_size", hf_int(c, "intermediate_size")));
    u32(key::kExpertSharedCount, hf_count_or(c, "n_shared_experts", 0));
    if (has_moe) {
      const int64_t top_k = hf_int(c, "num_experts_per_tok");
      u32(key::kExpertCount, hf_int(c, "n_routed_experts"));
      u32(key::kExpertUsedCount, top_k);
      const std::string method = hf_string_or(c, "topk_method", "greedy");
      const int64_t n_group = hf_int_or(c, "n_group", 1);
      if (method != "greedy" && method != "group_limited_greedy" && method != "noaux_tc")
        fail("config.json: topk_method '{}' is not supported", method);
      if (method != "greedy") {
        u32(key::kExpertGroupCount, n_group);
        u32(key::kExpertGroupUsedCount, hf_int_or(c, "topk_group", n_group));
      }
      const std::string scoring = hf_string_or(c, "scoring_func", "softmax");
      if (scoring != "softmax" && scoring != "sigmoid") fail("config.json: scoring_func '{}' is not supported", scoring);
      u32(key::kExpertGatingFunc, scoring == "softmax" ? 1 : 2);
      // Weights: V3 (noaux_tc) renormalizes, then scales; V2 either renormalizes or scales.
      // Neither renormalizes a single expert. llama.cpp renormalizes when asked, then scales.
      const bool norm = hf_bool_or(c, "norm_topk_prob", false) && top_k > 1;
      double scale = hf_float_or(c, "routed_scaling_factor", 1.0);
      if (norm && method != "noaux_tc") scale = 1.0;
      if (norm) w.set_bool(gguf::arch_key(kArch, key::kExpertWeightsNorm), true);
      f32(key::kExpertWeightsScale, scale);
    }

    // RoPE scaling: YaRN with DeepSeek's mscale / mscale_all_dim, as llama.cpp reads them.
    const json rs = hf_rope_scaling(c);
    const std::string type = hf_rope_type(rs);
    if (type.empty()) return;
    const double factor = hf_float_or(rs, "factor", 0.0);
    if ((type != "yarn" && type != "linear") || !(factor > 0.0))
      fail("config.json: rope_scaling type '{}' (factor {}) is not supported for deepseek2", type, factor);
    w.set_string(gguf::arch_key(kArch, key::kRopeScalingType), type);
    f32(key::kRopeScalingFactor, factor);
    if (type != "yarn") return;
    u32(key::kRopeScalingOrigCtx, hf_int_or(rs, "original_max_position_embeddings", 4096));
    if (rs.contains("beta_fast") && !rs["beta_fast"].is_null()) f32(key::kRopeScalingYarnBetaFast, hf_float_or(rs, "beta_fast", 32.0));
    if (rs.contains("beta_slow") && !rs["beta_slow"].is_null()) f32(key::kRopeScalingYarnBetaSlow, hf_float_or(rs, "beta_slow", 1.0));
    const double mscale = hf_float_or(rs, "mscale", 1.0);
    const double mscale_all = hf_float_or(rs, "mscale_all_dim", 0.0);
    // llama.cpp takes mscale = mscale_all_dim (or 1 when that is 1) and needs mscale_all_dim to
    // scale the scores; other combinations cannot be expressed in the file.
    if (mscale_all == 0.0 || std::abs(mscale - (mscale_all != 1.0 ? mscale_all : 1.0)) > 1e-6)
      fail("config.json: YaRN with mscale {} and mscale_all_dim {} cannot be represented in GGUF "
           "deepseek2 (llama.cpp needs mscale_all_dim set and mscale equal to it)", mscale, mscale_all);
    f32(key::kRopeScalingYarnLogMul, 0.1 * mscale_all);
  }

  std::optional<std::string> tensor_name(std::string_view n) const override {
    if (n == "model.embed_tokens.weight") return std::string(tn::kTokenEmbedding);
    if (n == "model.norm.weight") return std::string(tn::kOutputNorm);
    if (n == "lm_head.weight") return std::string(tn::kOutput);
    int layer = 0;
    std::string_view rest;
    if (split_layer(n, layer, rest)) {
      if (rest.ends_with("rotary_emb.inv_freq")) return std::nullopt;
      if (rest == "mlp.gate.e_score_correction_bias") return gguf::block_tensor(layer, tn::kFfnExpProbsBias, "bias");
      static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
          {"input_layernorm.weight", tn::kAttnNorm},
          {"post_attention_layernorm.weight", tn::kFfnNorm},
          {"self_attn.q_proj.weight", tn::kAttnQ},
          {"self_attn.q_a_proj.weight", tn::kAttnQA},
          {"self_attn.q_a_layernorm.weight", tn::kAttnQANorm},
          {"self_attn.q_b_proj.weight", tn::kAttnQB},
          {"self_attn.kv_a_proj_with_mqa.weight", tn::kAttnKvAMqa},
          {"self_attn.kv_a_layernorm.weight", tn::kAttnKvANorm},
          {"self_attn.o_proj.weight", tn::kAttnOutput},
          {"mlp.gate_proj.weight", tn::kFfnGate},
          {"mlp.up_proj.weight", tn::kFfnUp},
          {"mlp.down_proj.weight", tn::kFfnDown},
          {"mlp.gate.weight", tn::kFfnGateInp},
          {"mlp.shared_experts.gate_proj.weight", tn::kFfnGateShexp},
          {"mlp.shared_experts.up_proj.weight", tn::kFfnUpShexp},
          {"mlp.shared_experts.down_proj.weight", tn::kFfnDownShexp},
      };
      for (const auto& [hf, stem] : kMap)
        if (rest == hf) return gguf::block_tensor(layer, stem);
    }
    fail("{} checkpoint: unsupported tensor '{}'", kHfClass, n);
  }

  std::vector<DerivedTensor> derived_tensors(
      const json& c, const std::map<std::string, std::vector<int64_t>>& shapes) const override {
    std::vector<DerivedTensor> out;
    const int64_t n_head = hf_int(c, "num_attention_heads");
    const int64_t nope = hf_int(c, "qk_nope_head_dim"), v_dim = hf_int(c, "v_head_dim");
    const int64_t kv_lora = hf_int_or(c, "kv_lora_rank", 512);
    const int64_t n_expert = hf_int_or(c, "n_routed_experts", 0);
    for (const auto& [name, shape] : shapes) {
      int layer = 0;
      std::string_view rest;
      if (!split_layer(name, layer, rest)) continue;
      if (rest == "self_attn.kv_b_proj.weight") {
        if (shape != std::vector<int64_t>{n_head * (nope + v_dim), kv_lora})
          fail("convert: '{}' must have shape [{}, {}]", name, n_head * (nope + v_dim), kv_lora);
        // Row h·(nope+v) + j of kv_b is W_UK_h[j] (j < nope) or W_UV_h[j - nope].
        out.push_back({gguf::block_tensor(layer, tn::kAttnKB), {nope, kv_lora, n_head}, {name},
                       [=](std::vector<std::vector<float>>& src) {
                         std::vector<float> k_b(static_cast<size_t>(n_head * kv_lora * nope));
                         for (int64_t h = 0; h < n_head; ++h)
                           for (int64_t j = 0; j < nope; ++j)
                             for (int64_t r = 0; r < kv_lora; ++r)
                               k_b[static_cast<size_t>((h * kv_lora + r) * nope + j)] =
                                   src[0][static_cast<size_t>((h * (nope + v_dim) + j) * kv_lora + r)];
                         return k_b;
                       }});
        out.push_back({gguf::block_tensor(layer, tn::kAttnVB), {kv_lora, v_dim, n_head}, {name},
                       [=](std::vector<std::vector<float>>& src) {
                         std::vector<float> v_b;
                         v_b.reserve(static_cast<size_t>(n_head * v_dim * kv_lora));
                         for (int64_t h = 0; h < n_head; ++h) {
                           const auto first = src[0].begin() + (h * (nope + v_dim) + nope) * kv_lora;
                           v_b.insert(v_b.end(), first, first + v_dim * kv_lora);
                         }
                         return v_b;
                       }});
      } else if (rest == "mlp.experts.0.gate_proj.weight") {
        for (const auto& [proj, stem] : {std::pair{"gate_proj", tn::kFfnGateExps}, std::pair{"up_proj", tn::kFfnUpExps},
                                         std::pair{"down_proj", tn::kFfnDownExps}}) {
          DerivedTensor d;
          d.name = gguf::block_tensor(layer, stem);
          for (int64_t e = 0; e < n_expert; ++e) {
            d.sources.push_back(fmt::format("model.layers.{}.mlp.experts.{}.{}.weight", layer, e, proj));
            const auto it = shapes.find(d.sources.back());
            if (it == shapes.end()) fail("convert: checkpoint tensor '{}' is missing", d.sources.back());
            if (it->second.size() != 2 || it->second != shapes.at(d.sources.front()))
              fail("convert: expert tensor '{}' differs in shape from expert 0", d.sources.back());
          }
          const std::vector<int64_t>& s = shapes.at(d.sources.front());
          d.dims = {s[1], s[0], n_expert};
          d.build = [](std::vector<std::vector<float>>& src) {
            std::vector<float> all;
            for (auto& m : src) all.insert(all.end(), m.begin(), m.end());
            return all;
          };
          out.push_back(std::move(d));
        }
      }
    }
    return out;
  }

  bool keep_f32(const std::string& name) const override {
    return name.find(std::string(".") + std::string(tn::kFfnGateInp) + ".") != std::string::npos;
  }
};

}  // namespace

std::unique_ptr<HfConverter> make_deepseek2_hf_converter() {
  return std::make_unique<Deepseek2HfConverter>();
}

}  // namespace edgellm::model
