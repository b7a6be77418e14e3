#include "model/hf_convert.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "kernels/quant/quant.h"
#include "model/architecture.h"
#include "model/safetensors.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::model {

namespace fs = std::filesystem;
namespace key = gguf::key;
using nlohmann::json;

void HfConverter::transform(const std::string&, const std::vector<int64_t>&, std::vector<float>&,
                            const json&) const {}

std::vector<ExtraTensor> HfConverter::extra_tensors(const json&) const { return {}; }

std::vector<DerivedTensor> HfConverter::derived_tensors(
    const json&, const std::map<std::string, std::vector<int64_t>>&) const {
  return {};
}

bool HfConverter::keep_f32(const std::string&) const { return false; }

// ---- config.json helpers ----

int64_t hf_int(const json& c, const char* k) {
  if (!c.contains(k) || !c[k].is_number_integer()) fail("config.json: '{}' is missing or not an integer", k);
  const int64_t v = c[k].get<int64_t>();
  if (v <= 0 || v > (int64_t{1} << 31)) fail("config.json: '{}' = {} is out of range", k, v);
  return v;
}

int64_t hf_int_or(const json& c, const char* k, int64_t fallback) {
  if (!c.contains(k) || c[k].is_null()) return fallback;
  return hf_int(c, k);
}

double hf_float_or(const json& c, const char* k, double fallback) {
  if (!c.contains(k) || c[k].is_null()) return fallback;
  if (!c[k].is_number()) fail("config.json: '{}' is not a number", k);
  return c[k].get<double>();
}

bool hf_bool_or(const json& c, const char* k, bool fallback) {
  if (!c.contains(k) || c[k].is_null()) return fallback;
  if (!c[k].is_boolean()) fail("config.json: '{}' is not a boolean", k);
  return c[k].get<bool>();
}

json hf_rope_scaling(const json& c) {
  for (const char* k : {"rope_scaling", "rope_parameters"}) {
    if (c.contains(k) && !c[k].is_null()) {
      if (!c[k].is_object()) fail("config.json: '{}' is not an object", k);
      return c[k];
    }
  }
  return json::object();
}

std::string hf_rope_type(const json& rs) {
  std::string t;
  if (rs.contains("rope_type") && rs["rope_type"].is_string()) t = rs["rope_type"].get<std::string>();
  else if (rs.contains("type") && rs["type"].is_string()) t = rs["type"].get<std::string>();
  return t == "default" ? "" : t;
}

double hf_rope_theta(const json& c) {
  if (c.contains("rope_theta") && !c["rope_theta"].is_null()) return hf_float_or(c, "rope_theta", 10000.0);
  return hf_float_or(hf_rope_scaling(c), "rope_theta", 10000.0);  // newer configs: in rope_parameters
}

int64_t hf_head_dim(const json& c) {
  if (c.contains("head_dim") && !c["head_dim"].is_null()) return hf_int(c, "head_dim");
  const int64_t hidden = hf_int(c, "hidden_size"), heads = hf_int(c, "num_attention_heads");
  if (hidden % heads != 0) fail("config.json: hidden_size {} is not a multiple of num_attention_heads {}", hidden, heads);
  return hidden / heads;
}

namespace {

// YaRN's magnitude correction as Hugging Face defines it (get_mscale): 1 when not extending.
double yarn_get_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// The HF YaRN settings as llama.cpp's llama/qwen2 loaders can express them. Those loaders
// read only the factor, the original context and rope.scaling.attn_factor (and fix beta_fast =
// 32, beta_slow = 1); their context makes the cos/sin magnitude get_mscale(factor) times
// rope.scaling.attn_factor. HF multiplies cos/sin by its attention_factor (default
// get_mscale(factor), or get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim) when
// both are set), so the ratio of the two goes into rope.scaling.attn_factor.
void write_yarn(std::string_view arch, const json& c, const json& rs, double factor, gguf::GgufWriter& w) {
  if (factor < 1.0) fail("config.json: YaRN 'factor' = {} must be at least 1", factor);
  for (const auto& [k, fixed] : {std::pair<const char*, double>{"beta_fast", 32.0}, {"beta_slow", 1.0}}) {
    const double v = hf_float_or(rs, k, fixed);
    if (v != fixed && v != 0.0)  // HF reads `beta or default`: 0 means the default too
      fail("config.json: YaRN {} = {} is not supported: llama.cpp runs {} with {} = {}", k, v, arch, k, fixed);
  }
  if (!hf_bool_or(rs, "truncate", true)) fail("config.json: YaRN truncate = false is not supported");
  double attention = yarn_get_mscale(factor, 1.0);
  if (rs.contains("attention_factor") && !rs["attention_factor"].is_null()) {
    attention = hf_float_or(rs, "attention_factor", 1.0);
  } else {
    const double mscale = hf_float_or(rs, "mscale", 0.0), mscale_all_dim = hf_float_or(rs, "mscale_all_dim", 0.0);
    if (mscale != 0.0 && mscale_all_dim != 0.0)
      attention = yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim);
  }
  if (!(attention > 0.0) || !std::isfinite(attention))
    fail("config.json: YaRN attention factor {} must be positive", attention);
  w.set_u32(gguf::arch_key(arch, key::kRopeScalingOrigCtx),
            static_cast<uint32_t>(hf_int_or(rs, "original_max_position_embeddings", hf_int(c, "max_position_embeddings"))));
  const double attn_factor = attention / yarn_get_mscale(factor, 1.0);
  if (std::abs(attn_factor - 1.0) > 1e-7)
    w.set_f32(gguf::arch_key(arch, key::kRopeScalingAttnFactor), static_cast<float>(attn_factor));
}

void write_rope_scaling(std::string_view arch, const json& c, gguf::GgufWriter& w,
                        std::string_view allowed_extra_rope_type) {
  const json rs = hf_rope_scaling(c);
  const std::string type = hf_rope_type(rs);
  if (type.empty()) return;
  if (!allowed_extra_rope_type.empty() && type == allowed_extra_rope_type) return;
  if (type != "linear" && type != "yarn")
    fail("config.json: rope_scaling type '{}' is not supported for {} (supported: linear, yarn{}{})", type, arch,
         allowed_extra_rope_type.empty() ? "" : ", ", allowed_extra_rope_type);
  const double factor = hf_float_or(rs, "factor", 0.0);
  if (!(factor > 0.0) || !std::isfinite(factor))
    fail("config.json: rope_scaling of type {} needs a positive 'factor'", type);
  w.set_string(gguf::arch_key(arch, key::kRopeScalingType), type);
  w.set_f32(gguf::arch_key(arch, key::kRopeScalingFactor), static_cast<float>(factor));
  if (type == "yarn") write_yarn(arch, c, rs, factor, w);
}

// Sliding-window attention is not implemented: a window narrower than the context the model
// runs with would change its outputs (Mistral v0.1; Mistral v0.2+ and Qwen2 leave it off).
void refuse_sliding_window(const json& c) {
  if (!c.contains("sliding_window") || c["sliding_window"].is_null()) return;
  if (c.contains("use_sliding_window") && !hf_bool_or(c, "use_sliding_window", false)) return;
  const int64_t window = hf_int(c, "sliding_window"), context = hf_int(c, "max_position_embeddings");
  if (window < context)
    fail("config.json: sliding_window = {} is smaller than max_position_embeddings = {}; sliding-window "
         "attention is not supported", window, context);
}

}  // namespace

void write_llama_style_metadata(std::string_view arch, const json& c, gguf::GgufWriter& w,
                                std::string_view allowed_extra_rope_type) {
  const auto u32 = [&](std::string_view suffix, int64_t v) {
    w.set_u32(gguf::arch_key(arch, suffix), static_cast<uint32_t>(v));
  };
  const int64_t n_head = hf_int(c, "num_attention_heads");
  const int64_t n_head_kv = hf_int_or(c, "num_key_value_heads", n_head);
  if (n_head % n_head_kv != 0)
    fail("config.json: num_attention_heads {} is not a multiple of num_key_value_heads {}", n_head, n_head_kv);
  const int64_t head_dim = hf_head_dim(c);
  if (head_dim % 2 != 0) fail("config.json: head dimension {} must be even for RoPE", head_dim);
  if (c.contains("hidden_act") && c["hidden_act"] != "silu")
    fail("config.json: hidden_act {} is not supported (only silu)", c["hidden_act"].dump());
  if (hf_bool_or(c, "mlp_bias", false)) fail("config.json: mlp_bias = true is not supported");
  if (hf_float_or(c, "partial_rotary_factor", 1.0) != 1.0) fail("config.json: partial_rotary_factor is not supported");
  refuse_sliding_window(c);

  u32(key::kVocabSize, hf_int(c, "vocab_size"));
  u32(key::kContextLength, hf_int(c, "max_position_embeddings"));
  u32(key::kEmbeddingLength, hf_int(c, "hidden_size"));
  u32(key::kBlockCount, hf_int(c, "num_hidden_layers"));
  u32(key::kFeedForwardLength, hf_int(c, "intermediate_size"));
  u32(key::kHeadCount, n_head);
  u32(key::kHeadCountKv, n_head_kv);
  if (c.contains("head_dim") && !c["head_dim"].is_null()) {
    u32(key::kKeyLength, head_dim);
    u32(key::kValueLength, head_dim);
  }
  w.set_f32(gguf::arch_key(arch, key::kRopeFreqBase), static_cast<float>(hf_rope_theta(c)));
  w.set_f32(gguf::arch_key(arch, key::kRmsEpsilon), static_cast<float>(hf_float_or(c, "rms_norm_eps", 1e-6)));
  u32(key::kRopeDimensionCount, head_dim);

  write_rope_scaling(arch, c, w, allowed_extra_rope_type);
}

std::optional<std::string> llama_style_tensor_name(std::string_view n, std::string_view hf_class) {
  namespace tn = gguf::tensor;
  if (n == "model.embed_tokens.weight") return std::string(tn::kTokenEmbedding);
  if (n == "model.norm.weight") return std::string(tn::kOutputNorm);
  if (n == "lm_head.weight") return std::string(tn::kOutput);
  constexpr std::string_view prefix = "model.layers.";
  if (n.starts_with(prefix)) {
    std::string_view rest = n.substr(prefix.size());
    const size_t dot = rest.find('.');
    int layer = 0;
    bool ok = dot != std::string_view::npos && dot > 0 && dot < 7;
    for (size_t i = 0; ok && i < dot; ++i) {
      ok = rest[i] >= '0' && rest[i] <= '9';
      layer = layer * 10 + (rest[i] - '0');
    }
    if (ok) {
      rest = rest.substr(dot + 1);
      if (rest.ends_with("rotary_emb.inv_freq")) return std::nullopt;  // recomputed from config
      static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
          {"self_attn.q_proj", tn::kAttnQ},         {"self_attn.k_proj", tn::kAttnK},
          {"self_attn.v_proj", tn::kAttnV},         {"self_attn.o_proj", tn::kAttnOutput},
          {"mlp.gate_proj", tn::kFfnGate},          {"mlp.up_proj", tn::kFfnUp},
          {"mlp.down_proj", tn::kFfnDown},          {"input_layernorm", tn::kAttnNorm},
          {"post_attention_layernorm", tn::kFfnNorm},
      };
      for (const auto& [hf, stem] : kMap) {
        if (rest.starts_with(hf) && rest.size() > hf.size() && rest[hf.size()] == '.') {
          const std::string_view suffix = rest.substr(hf.size() + 1);
          if (suffix == "weight" || suffix == "bias") return gguf::block_tensor(layer, stem, suffix);
        }
      }
    }
  }
  fail("{} checkpoint: unsupported tensor '{}'", hf_class, n);
}

// ---- the driver ----

namespace {

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}", path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read {}", path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", path.string(), e.what());
  }
}

uint32_t file_type_id(TensorType t) {
  switch (t) {
    case TensorType::F32: return 0;   // ALL_F32
    case TensorType::F16: return 1;   // MOSTLY_F16
    case TensorType::Q8_0: return 7;  // MOSTLY_Q8_0
    case TensorType::BF16: return 32; // MOSTLY_BF16
    default: fail("convert: output type {} is not supported (use f32, f16, bf16 or q8_0)", type_name(t));
  }
}

struct PlannedTensor {
  std::string name;
  TensorType type;
  std::vector<int64_t> dims;           // GGUF order
  const SafetensorsCheckpoint::Entry* source = nullptr;
  const ExtraTensor* extra = nullptr;
  const DerivedTensor* derived = nullptr;
};

// token_embd, then blocks in numeric order, then the rest.
std::tuple<int, int, std::string> order_key(const std::string& name) {
  if (name == gguf::tensor::kTokenEmbedding) return {0, 0, name};
  if (name.starts_with("blk.")) return {1, std::atoi(name.c_str() + 4), name};
  return {2, 0, name};
}

std::vector<uint8_t> encode(TensorType type, const std::vector<float>& data, int64_t row_len) {
  const int64_t n_rows = static_cast<int64_t>(data.size()) / row_len;
  std::vector<uint8_t> out(row_bytes(type, row_len) * static_cast<size_t>(n_rows));
  quant::quantize_rows(type, data.data(), out.data(), n_rows, row_len);
  return out;
}

}  // namespace

void convert_hf_checkpoint(const std::string& hf_dir, const std::string& out_path,
                           const ConvertOptions& options) {
  const fs::path dir(hf_dir);
  if (!fs::is_directory(dir)) fail("convert: {} is not a directory", hf_dir);
  const json config = read_json_file(dir / "config.json");
  if (!config.is_object() || !config.contains("architectures") || !config["architectures"].is_array() ||
      config["architectures"].empty() || !config["architectures"][0].is_string())
    fail("{}: 'architectures' must list the model class", (dir / "config.json").string());
  const std::string hf_class = config["architectures"][0].get<std::string>();
  // Mistral (without a sliding window, see refuse_sliding_window) is Llama's model, and
  // llama.cpp's converter writes it as arch llama.
  const std::unique_ptr<Architecture> arch =
      create_architecture_for_hf(hf_class == "MistralForCausalLM" ? "LlamaForCausalLM" : hf_class);
  const HfConverter* conv = arch->hf_converter();
  if (conv == nullptr) fail("convert: architecture {} has no Hugging Face converter", arch->name());
  const uint32_t file_type = file_type_id(options.type);

  const fs::path tok_json = dir / "tokenizer.json";
  if (!fs::exists(tok_json)) fail("convert: {} not found (a Hugging Face fast tokenizer is required)", tok_json.string());
  const fs::path tok_config = dir / "tokenizer_config.json";
  Tokenizer tokenizer = Tokenizer::from_hf_files(
      read_text_file(tok_json), fs::exists(tok_config) ? read_text_file(tok_config) : std::string());
  // The embedding may have more rows than the tokenizer has tokens (Qwen2 pads it): llama.cpp's
  // converter pads the vocabulary with unused tokens to match.
  tokenizer.pad_vocab_to(static_cast<int32_t>(hf_int(config, "vocab_size")));

  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::open_dir(hf_dir);
  const bool tied = hf_bool_or(config, "tie_word_embeddings", false);

  gguf::GgufWriter w;
  w.set_string(key::kArchitecture, std::string(arch->name()));
  std::string name = options.name;
  if (name.empty()) name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  w.set_string(key::kName, name);
  conv->write_metadata(config, w);
  w.set_u32(key::kFileType, file_type);
  w.set_u32(key::kQuantizationVersion, 2);
  tokenizer.write_gguf_metadata(w);

  // Plan every output tensor (name, type, shape) before reading any data.
  const std::vector<ExtraTensor> extras = conv->extra_tensors(config);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& entry : ckpt.tensors()) shapes[entry.info->name] = entry.info->shape;
  const std::vector<DerivedTensor> derived = conv->derived_tensors(config, shapes);
  std::set<std::string> consumed;
  const auto matrix_type = [&](const std::string& gname, const std::vector<int64_t>& dims) {
    if (dims.size() < 2 || conv->keep_f32(gname)) return TensorType::F32;
    TensorType type = options.type;
    if (type == TensorType::Q8_0 && dims[0] % traits(type).block_size != 0) type = TensorType::F16;
    return type;
  };
  std::vector<PlannedTensor> plan;
  std::set<std::string> names;
  for (const ExtraTensor& e : extras) plan.push_back({e.name, TensorType::F32, e.dims, nullptr, &e});
  for (const DerivedTensor& d : derived) {
    for (const std::string& src : d.sources) {
      if (ckpt.find(src) == nullptr) fail("convert: checkpoint tensor '{}' (needed for '{}') is missing", src, d.name);
      consumed.insert(src);
    }
    plan.push_back({d.name, matrix_type(d.name, d.dims), d.dims, nullptr, nullptr, &d});
  }
  for (const auto& entry : ckpt.tensors()) {
    if (consumed.count(entry.info->name)) continue;
    std::optional<std::string> gname = conv->tensor_name(entry.info->name);
    if (!gname) continue;
    if (tied && *gname == gguf::tensor::kOutput) continue;  // llama.cpp drops a tied LM head
    std::vector<int64_t> dims(entry.info->shape.rbegin(), entry.info->shape.rend());
    if (dims.empty()) dims.push_back(1);
    for (int64_t d : dims)
      if (d <= 0) fail("convert: tensor '{}' has an empty dimension", entry.info->name);
    const TensorType type = matrix_type(*gname, dims);  // 1-D tensors (norms, biases) stay F32, as llama.cpp
    plan.push_back({*gname, type, std::move(dims), &entry, nullptr});
  }
  // A tied checkpoint may hold only lm_head.weight (HF de-duplicates shared tensors on save and
  // TinyStories keeps the head): it then serves as the token embedding, and no output.weight is
  // written, which is the GGUF llama.cpp's converter makes from a checkpoint holding both.
  if (tied && ckpt.find("model.embed_tokens.weight") == nullptr) {
    if (const auto* head = ckpt.find("lm_head.weight")) {
      std::vector<int64_t> dims(head->info->shape.rbegin(), head->info->shape.rend());
      if (dims.size() != 2) fail("convert: lm_head.weight must be 2-D");
      const std::string embd(gguf::tensor::kTokenEmbedding);
      const TensorType type = matrix_type(embd, dims);
      plan.push_back({embd, type, std::move(dims), head, nullptr});
    }
  }
  for (const PlannedTensor& p : plan)
    if (!names.insert(p.name).second) fail("convert: two checkpoint tensors map to '{}'", p.name);
  if (!names.count(std::string(gguf::tensor::kTokenEmbedding)))
    fail("convert: the checkpoint has no token embedding (model.embed_tokens.weight)");
  std::stable_sort(plan.begin(), plan.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
    const bool ea = a.extra != nullptr, eb = b.extra != nullptr;  // extras first, as llama.cpp
    if (ea != eb) return ea;
    return order_key(a.name) < order_key(b.name);
  });

  for (const PlannedTensor& p : plan) w.declare_tensor(p.name, p.type, p.dims);
  w.begin_stream(out_path);
  for (const PlannedTensor& p : plan) {
    std::vector<float> data;
    if (p.extra != nullptr) {
      data = p.extra->data;
    } else if (p.derived != nullptr) {
      std::vector<std::vector<float>> inputs;
      for (const std::string& src : p.derived->sources) inputs.push_back(ckpt.read_f32(*ckpt.find(src)));
      data = p.derived->build(inputs);
      size_t n = 1;
      for (int64_t d : p.dims) n *= static_cast<size_t>(d);
      if (data.size() != n) fail("convert: '{}' was built with {} values, expected {}", p.name, data.size(), n);
    } else {
      data = ckpt.read_f32(*p.source);
      conv->transform(p.name, p.source->info->shape, data, config);
    }
    const std::vector<uint8_t> bytes = encode(p.type, data, p.dims[0]);
    w.write_tensor_data(p.name, bytes);
  }
  w.finish_stream();
}

}  // namespace edgellm::model
