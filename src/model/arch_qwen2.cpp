// GGUF architecture "qwen2": Qwen2 / Qwen2.5. Llama's block with required Q/K/V biases and
// NeoX-style (half-split) RoPE, so the converter keeps Hugging Face's Q/K row order.
#include "core/error.h"
#include "model/architecture.h"
#include "model/hf_convert.h"
#include "model/llama_block.h"

namespace edgellm::model {

namespace {

constexpr std::string_view kArch = "qwen2";
constexpr std::string_view kHfClass = "Qwen2ForCausalLM";

class Qwen2HfConverter final : public HfConverter {
 public:
  void write_metadata(const nlohmann::json& c, gguf::GgufWriter& w) const override {
    write_llama_style_metadata(kArch, c, w);
  }
  std::optional<std::string> tensor_name(std::string_view hf_name) const override {
    return llama_style_tensor_name(hf_name, kHfClass);
  }
};

class Qwen2Architecture final : public Architecture {
 public:
  std::string_view name() const override { return kArch; }

  ModelConfig read_config(const gguf::GgufFile& file) const override {
    ModelConfig c = read_llama_style_config(file, kArch);
    c.rope.style = kernels::RopeStyle::NeoX;
    return c;
  }

  std::unique_ptr<Layer> load_layer(const WeightLoader& w, const ModelConfig& c,
                                    int index) const override {
    return std::make_unique<LlamaBlock>(c, load_llama_block(w, c, index, QkvBias::Required));
  }

  const HfConverter* hf_converter() const override { return &converter_; }

 private:
  Qwen2HfConverter converter_;
};

}  // namespace

std::unique_ptr<Architecture> make_qwen2_architecture() {
  return std::make_unique<Qwen2Architecture>();
}

}  // namespace edgellm::model
