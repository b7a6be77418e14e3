// The architecture registry's interface. An Architecture reads its hyperparameters from GGUF
// metadata and builds one Layer object per transformer block; each Layer owns views of its
// weights and runs its own attention and feed-forward on the residual stream, using the shared
// helpers (kernels::matmul, rms_norm, Rope, runtime::attention). A new family (e.g. DeepSeek-V2
// with MLA + MoE) is one new arch_<name>.cpp plus one line in registry.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "model/model_config.h"
#include "runtime/kv_cache.h"

namespace edgellm::gguf {
class GgufFile;
}
namespace edgellm::runtime {
class ThreadPool;
class Scratch;
class MatmulObserver;
class BatchAttention;
}  // namespace edgellm::runtime

namespace edgellm::model {

class WeightLoader;
class HfConverter;

// Everything one block's forward pass needs besides its weights.
struct LayerContext {
  runtime::ThreadPool& pool;
  runtime::KvCache& kv;
  runtime::Scratch& scratch;
  const kernels::Rope& rope;
  const float* rope_cos;  // n_tokens × rope.n_pairs(), for positions pos0 ..
  const float* rope_sin;
  int64_t pos0;           // position of the first token of the batch
  int64_t n_tokens;
  // When set, each weight matmul reports its input first (see runtime/matmul_observer.h).
  runtime::MatmulObserver* observer = nullptr;
  // When set, the tokens belong to several sequences (the server's continuous batching): rope
  // rows are per token at each token's own position, pos0 and kv are unused, and attention
  // (KV store included) goes through this hook (see runtime/batch_attention.h).
  runtime::BatchAttention* batch = nullptr;
};

class Layer {
 public:
  virtual ~Layer() = default;
  // Width of this layer's key and value cache rows.
  virtual runtime::KvLayerShape kv_shape() const = 0;
  // x: n_tokens × n_embd residual stream, updated in place. Stores this batch's keys/values in
  // ctx.kv at positions pos0 .. pos0+n_tokens-1 of layer `index` and attends causally.
  virtual void forward(int index, float* x, LayerContext& ctx) const = 0;
};

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual std::string_view name() const = 0;  // general.architecture, e.g. "llama"
  virtual ModelConfig read_config(const gguf::GgufFile& file) const = 0;
  virtual std::unique_ptr<Layer> load_layer(const WeightLoader& weights, const ModelConfig& config,
                                            int index) const = 0;
  // Conversion from a Hugging Face checkpoint, or nullptr when the family has none.
  virtual const HfConverter* hf_converter() const { return nullptr; }
};

// Registry (registry.cpp). Unknown names throw edgellm::Error listing the supported ones.
std::unique_ptr<Architecture> create_architecture(std::string_view gguf_name);
// The architecture that converts a Hugging Face `architectures[0]` class, e.g.
// "LlamaForCausalLM"; throws naming the class when none does.
std::unique_ptr<Architecture> create_architecture_for_hf(std::string_view hf_class);
std::vector<std::string_view> supported_architectures();

}  // namespace edgellm::model
