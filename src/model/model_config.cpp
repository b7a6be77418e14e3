#include "model/model_config.h"

#include <cmath>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "kernels/quant/quant.h"
#include "model/weights.h"

namespace edgellm::model {

namespace {

namespace key = gguf::key;
namespace tensor = gguf::tensor;

// The pre-"rope.scaling.*" name of the linear factor, still read by llama.cpp.
constexpr std::string_view kRopeScaleLinear = "rope.scale_linear";

int64_t positive(const std::string& k, int64_t value) {
  if (value <= 0 || value > (int64_t{1} << 31)) fail("model metadata: {} = {} is out of range", k, value);
  return value;
}

int64_t required_int(const gguf::GgufFile& f, std::string_view arch, std::string_view suffix) {
  const std::string k = gguf::arch_key(arch, suffix);
  if (!f.find(k)) fail("model metadata is missing key '{}'", k);
  return positive(k, f.get_int(k));
}

int64_t optional_int(const gguf::GgufFile& f, std::string_view arch, std::string_view suffix,
                     int64_t fallback) {
  const std::string k = gguf::arch_key(arch, suffix);
  if (!f.find(k)) return fallback;
  return positive(k, f.get_int(k));
}

// RoPE scaling as llama.cpp's loader reads it (llama_model::load_hparams): a missing
// rope.scaling.type means "linear", the factor comes from rope.scaling.factor or the older
// rope.scale_linear key, and a missing or zero factor means no scaling at all.
void read_rope_scaling(const gguf::GgufFile& f, std::string_view arch, ModelConfig& c) {
  kernels::RopeParams& r = c.rope;
  const std::string type_key = gguf::arch_key(arch, key::kRopeScalingType);
  const std::string type = f.get_string_or(type_key, "linear");
  if (type == "none") {
    r.scaling = kernels::RopeScaling::None;
  } else if (type == "linear") {
    r.scaling = kernels::RopeScaling::Linear;
  } else if (type == "yarn") {
    r.scaling = kernels::RopeScaling::Yarn;
  } else {
    fail("model metadata: unsupported {} '{}' (supported: none, linear, yarn)", type_key, type);
  }
  std::string factor_key = gguf::arch_key(arch, key::kRopeScalingFactor);
  if (!f.find(factor_key)) factor_key = gguf::arch_key(arch, kRopeScaleLinear);
  const double factor = f.get_float_or(factor_key, 0.0);
  if (r.scaling != kernels::RopeScaling::None && factor == 0.0) r.scaling = kernels::RopeScaling::None;
  if (r.scaling != kernels::RopeScaling::None) {
    if (!(factor > 0.0) || !std::isfinite(factor)) fail("model metadata: {} = {} must be positive", factor_key, factor);
    r.scaling_factor = factor;
  }
  if (r.scaling == kernels::RopeScaling::Yarn) {
    // Below 1, llama.cpp's and Hugging Face's magnitude corrections part ways (and the model
    // would be squeezed, not extended): no real checkpoint does that.
    if (factor < 1.0) fail("model metadata: {} = {} must be at least 1 for YaRN", factor_key, factor);
    r.n_ctx_orig = optional_int(f, arch, key::kRopeScalingOrigCtx, c.n_ctx_train);
    // llama.cpp reads rope.scaling.yarn_beta_fast/_slow only for a few other architectures
    // (grok, mistral3): llama, qwen2 and deepseek2 always run with 32 and 1, and so do we.
    r.yarn_beta_fast = 32.0;
    r.yarn_beta_slow = 1.0;
  }
  r.attn_factor = f.get_float_or(gguf::arch_key(arch, key::kRopeScalingAttnFactor), 1.0);
  if (!(r.attn_factor > 0.0) || !std::isfinite(r.attn_factor))
    fail("model metadata: {} = {} must be positive", gguf::arch_key(arch, key::kRopeScalingAttnFactor), r.attn_factor);

  // Llama 3.x: per-pair frequency divisors stored as a tensor.
  if (const gguf::TensorInfo* t = f.find_tensor(tensor::kRopeFreqs)) {
    const int64_t half = r.n_dims / 2;
    if (t->dims.size() != 1 || t->dims[0] != half)
      fail("tensor '{}' must hold rope.dimension_count/2 = {} values", tensor::kRopeFreqs, half);
    if (!quant::can_dequantize(t->type))
      fail("tensor '{}' has unsupported type {}", tensor::kRopeFreqs, type_name(t->type));
    check_tensor_alignment(*t);
    r.freq_factors.resize(static_cast<size_t>(half));
    quant::dequantize_row(t->type, t->data, r.freq_factors.data(), half);
  }
}

}  // namespace

ModelConfig read_llama_style_config(const gguf::GgufFile& f, std::string_view arch) {
  ModelConfig c;
  c.arch = std::string(arch);
  c.name = f.get_string_or(std::string(key::kName), "");
  c.n_ctx_train = required_int(f, arch, key::kContextLength);
  c.n_embd = required_int(f, arch, key::kEmbeddingLength);
  c.n_layer = required_int(f, arch, key::kBlockCount);
  c.n_ff = required_int(f, arch, key::kFeedForwardLength);
  c.n_head = required_int(f, arch, key::kHeadCount);
  c.n_head_kv = optional_int(f, arch, key::kHeadCountKv, c.n_head);
  if (c.n_head % c.n_head_kv != 0)
    fail("model metadata: head_count {} is not a multiple of head_count_kv {}", c.n_head, c.n_head_kv);
  const bool has_kv_len = f.find(gguf::arch_key(arch, key::kKeyLength)) != nullptr;
  if (!has_kv_len && c.n_embd % c.n_head != 0)
    fail("model metadata: embedding_length {} is not a multiple of head_count {}", c.n_embd, c.n_head);
  c.head_dim_k = optional_int(f, arch, key::kKeyLength, c.n_embd / c.n_head);
  c.head_dim_v = optional_int(f, arch, key::kValueLength, c.n_embd / c.n_head);

  const std::string eps_key = gguf::arch_key(arch, key::kRmsEpsilon);
  if (!f.find(eps_key)) fail("model metadata is missing key '{}'", eps_key);
  c.rms_eps = static_cast<float>(f.get_float(eps_key));
  if (!(c.rms_eps > 0.0f) || !std::isfinite(c.rms_eps)) fail("model metadata: {} = {} must be positive", eps_key, c.rms_eps);

  const gguf::TensorInfo& embd = f.tensor(tensor::kTokenEmbedding);
  if (embd.dims.size() != 2 || embd.dims[0] != c.n_embd)
    fail("tensor '{}' must have shape [{}, n_vocab]", tensor::kTokenEmbedding, c.n_embd);
  c.n_vocab = embd.dims[1];
  const int64_t vocab_key = optional_int(f, arch, key::kVocabSize, c.n_vocab);
  if (vocab_key != c.n_vocab)
    fail("model metadata: {} = {} but '{}' has {} rows", gguf::arch_key(arch, key::kVocabSize),
         vocab_key, tensor::kTokenEmbedding, c.n_vocab);
  c.tied_embeddings = f.find_tensor(tensor::kOutput) == nullptr;

  kernels::RopeParams& r = c.rope;
  r.n_dims = optional_int(f, arch, key::kRopeDimensionCount, c.head_dim_k);
  if (r.n_dims > c.head_dim_k || r.n_dims % 2 != 0)
    fail("model metadata: rope.dimension_count {} must be even and at most the head size {}", r.n_dims, c.head_dim_k);
  r.freq_base = f.get_float_or(gguf::arch_key(arch, key::kRopeFreqBase), 10000.0);
  if (!(r.freq_base > 0.0) || !std::isfinite(r.freq_base))
    fail("model metadata: rope.freq_base = {} must be positive", r.freq_base);
  read_rope_scaling(f, arch, c);
  return c;
}

}  // namespace edgellm::model
