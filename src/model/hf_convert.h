// Conversion of Hugging Face checkpoints (config.json + safetensors + tokenizer.json) to GGUF
// files that edgellm and llama.cpp load identically: llama.cpp's metadata keys, tensor names,
// Q/K row order and type choices. Each architecture supplies an HfConverter (its naming and
// transforms); convert_hf_checkpoint() is the shared driver.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/tensor_type.h"

namespace edgellm::gguf {
class GgufWriter;
}

namespace edgellm::model {

// A tensor computed from the config rather than read from the checkpoint; always stored F32.
struct ExtraTensor {
  std::string name;
  std::vector<int64_t> dims;  // GGUF order (dims[0] fastest)
  std::vector<float> data;
};

// A GGUF tensor assembled from other checkpoint tensors (e.g. per-expert matrices stacked into
// one 3-D tensor, or one part of a split matrix). Its sources are not converted one-to-one.
struct DerivedTensor {
  std::string name;
  std::vector<int64_t> dims;          // GGUF order (dims[0] fastest)
  std::vector<std::string> sources;   // checkpoint tensor names, in the order build() gets them
  std::function<std::vector<float>(std::vector<std::vector<float>>& sources)> build;
};

class HfConverter {
 public:
  virtual ~HfConverter() = default;
  // Writes the "<arch>.*" hyperparameter keys from config.json (general.* and tokenizer.* are
  // the driver's). Throws edgellm::Error naming a missing or unsupported setting.
  virtual void write_metadata(const nlohmann::json& config, gguf::GgufWriter& writer) const = 0;
  // The GGUF name of checkpoint tensor `hf_name`, or nullopt to leave it out. Throws for a name
  // the architecture does not know.
  virtual std::optional<std::string> tensor_name(std::string_view hf_name) const = 0;
  // Rewrites a tensor's float data in place before it is stored (e.g. Llama's Q/K permutation).
  // hf_shape is outermost first.
  virtual void transform(const std::string& gguf_name, const std::vector<int64_t>& hf_shape,
                         std::vector<float>& data, const nlohmann::json& config) const;
  virtual std::vector<ExtraTensor> extra_tensors(const nlohmann::json& config) const;
  // Tensors built from several checkpoint tensors (shapes: checkpoint name -> HF shape,
  // outermost first). Every source named here is left out of the one-to-one conversion.
  virtual std::vector<DerivedTensor> derived_tensors(
      const nlohmann::json& config, const std::map<std::string, std::vector<int64_t>>& shapes) const;
  // True for a 2-D+ tensor that stays F32 whatever the output type (llama.cpp keeps e.g. MoE
  // router weights in F32).
  virtual bool keep_f32(const std::string& gguf_name) const;
};

struct ConvertOptions {
  TensorType type = TensorType::F16;  // f32 | f16 | bf16 | q8_0 for the 2-D tensors
  std::string name;                   // general.name; default: the directory's name
};

// Reads hf_dir and writes out_path. Throws edgellm::Error for an unsupported architecture,
// option, tensor or setting, naming it.
void convert_hf_checkpoint(const std::string& hf_dir, const std::string& out_path,
                           const ConvertOptions& options);

// --- Helpers shared by the Llama-like families -------------------------------------------------

// Typed config.json access with errors naming the key.
int64_t hf_int(const nlohmann::json& config, const char* key);
int64_t hf_int_or(const nlohmann::json& config, const char* key, int64_t fallback);
double hf_float_or(const nlohmann::json& config, const char* key, double fallback);
bool hf_bool_or(const nlohmann::json& config, const char* key, bool fallback);
// rope_scaling (or rope_parameters) as an object; empty object when absent or null.
nlohmann::json hf_rope_scaling(const nlohmann::json& config);
std::string hf_rope_type(const nlohmann::json& rope_scaling);  // "" when none/default
int64_t hf_head_dim(const nlohmann::json& config);
double hf_rope_theta(const nlohmann::json& config);  // rope_theta, top level or in rope_parameters

// Writes context/embedding/block/FFN/head/KV-head/eps/RoPE keys the way llama.cpp's converter
// does, plus linear and YaRN rope scaling (HF's YaRN attention factor folded into
// rope.scaling.attn_factor, which llama.cpp honours for every architecture). Other rope types
// are the caller's to handle (allowed_extra_rope_type, e.g. "llama3") or are refused, as are
// sliding windows narrower than the context, mlp_bias and partial_rotary_factor.
void write_llama_style_metadata(std::string_view arch, const nlohmann::json& config,
                                gguf::GgufWriter& writer,
                                std::string_view allowed_extra_rope_type = {});

// model.embed_tokens / model.norm / lm_head / model.layers.N.{self_attn,mlp,*_layernorm} to
// llama.cpp's names; rotary inv_freq buffers are dropped; anything else throws naming hf_class.
std::optional<std::string> llama_style_tensor_name(std::string_view hf_name,
                                                   std::string_view hf_class);

}  // namespace edgellm::model
