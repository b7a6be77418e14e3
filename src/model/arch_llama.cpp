// GGUF architecture "llama": Llama 2/3/3.x, TinyLlama, SmolLM, Mistral (no sliding window).
// RoPE "normal" (adjacent pairs) on Q/K rows that the converter permuted from Hugging Face's
// half-split order; optional attention biases; Llama 3 frequency factors via rope_freqs.
#include <cmath>
#include <numbers>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "model/architecture.h"
#include "model/hf_convert.h"
#include "model/llama_block.h"

namespace edgellm::model {

namespace {

constexpr std::string_view kArch = "llama";
constexpr std::string_view kHfClass = "LlamaForCausalLM";

// Reorders the rows of a Q or K projection (or bias) from HF's per-head [first halves, second
// halves] to interleaved pairs, as llama.cpp's converter does: within each head, output row
// 2j + t comes from input row t·(head_dim/2) + j.
void permute_heads(std::vector<float>& data, const std::vector<int64_t>& shape, int64_t n_head,
                   const std::string& name) {
  if (shape.empty() || shape[0] % (2 * n_head) != 0)
    fail("convert: tensor '{}' with {} rows cannot be split into {} heads of pairs", name,
         shape.empty() ? 0 : shape[0], n_head);
  const int64_t rows = shape[0];
  const int64_t cols = static_cast<int64_t>(data.size()) / rows;
  const int64_t head_dim = rows / n_head, half = head_dim / 2;
  std::vector<float> out(data.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t j = 0; j < half; ++j)
      for (int64_t t = 0; t < 2; ++t) {
        const int64_t dst = h * head_dim + 2 * j + t, src = h * head_dim + t * half + j;
        std::copy(data.begin() + src * cols, data.begin() + (src + 1) * cols, out.begin() + dst * cols);
      }
  data.swap(out);
}

class LlamaHfConverter final : public HfConverter {
 public:
  void write_metadata(const nlohmann::json& c, gguf::GgufWriter& w) const override {
    write_llama_style_metadata(kArch, c, w, "llama3");
  }

  std::optional<std::string> tensor_name(std::string_view hf_name) const override {
    return llama_style_tensor_name(hf_name, kHfClass);
  }

  void transform(const std::string& name, const std::vector<int64_t>& shape,
                 std::vector<float>& data, const nlohmann::json& c) const override {
    const bool is_q = name.find(".attn_q.") != std::string::npos;
    const bool is_k = name.find(".attn_k.") != std::string::npos;
    if (!is_q && !is_k) return;
    const int64_t n_head = hf_int(c, "num_attention_heads");
    permute_heads(data, shape, is_q ? n_head : hf_int_or(c, "num_key_value_heads", n_head), name);
  }

  // Llama 3.1+: the "llama3" rope_scaling becomes per-pair frequency divisors in rope_freqs.
  std::vector<ExtraTensor> extra_tensors(const nlohmann::json& c) const override {
    const nlohmann::json rs = hf_rope_scaling(c);
    if (hf_rope_type(rs) != "llama3") return {};
    const double base = hf_rope_theta(c);
    const int64_t dim = hf_head_dim(c);
    const double factor = hf_float_or(rs, "factor", 8.0);
    const double low = hf_float_or(rs, "low_freq_factor", 1.0);
    const double high = hf_float_or(rs, "high_freq_factor", 4.0);
    const double old_ctx = static_cast<double>(hf_int_or(rs, "original_max_position_embeddings", 8192));
    if (!(factor > 0.0) || !(low > 0.0) || !(high > low))
      fail("config.json: llama3 rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0");
    const double low_wavelen = old_ctx / low, high_wavelen = old_ctx / high;
    ExtraTensor t{std::string(gguf::tensor::kRopeFreqs), {dim / 2}, {}};
    for (int64_t i = 0; i < dim; i += 2) {
      const double freq = 1.0 / std::pow(base, static_cast<double>(i) / static_cast<double>(dim));
      const double wavelen = 2.0 * std::numbers::pi / freq;
      double f = 1.0;
      if (wavelen > low_wavelen) {
        f = factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        f = 1.0 / ((1.0 - smooth) / factor + smooth);
      }
      t.data.push_back(static_cast<float>(f));
    }
    return {std::move(t)};
  }
};

class LlamaArchitecture final : public Architecture {
 public:
  std::string_view name() const override { return kArch; }

  ModelConfig read_config(const gguf::GgufFile& file) const override {
    ModelConfig c = read_llama_style_config(file, kArch);
    c.rope.style = kernels::RopeStyle::Normal;
    return c;
  }

  std::unique_ptr<Layer> load_layer(const WeightLoader& w, const ModelConfig& c,
                                    int index) const override {
    return std::make_unique<LlamaBlock>(c, load_llama_block(w, c, index, QkvBias::Optional));
  }

  const HfConverter* hf_converter() const override { return &converter_; }

 private:
  LlamaHfConverter converter_;
};

}  // namespace

std::unique_ptr<Architecture> make_llama_architecture() {
  return std::make_unique<LlamaArchitecture>();
}

}  // namespace edgellm::model
