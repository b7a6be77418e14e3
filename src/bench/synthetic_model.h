// Random-weight GGUF models of real shapes, for benchmarks: `edgellm bench --synthetic NAME`.
// The shapes are data (one table row per model); the per-tensor types are exactly what
// llama.cpp's quantization mixture gives a real file (quantize/quant_policy.h). The weights are
// random but valid block bytes (small finite scales, random quants), written directly without
// quantizing floats, so even the ~9 GB DeepSeek-V2-Lite shape is written at disk speed. Each
// file carries a byte-level tokenizer padded to the real vocabulary, so `edgellm run` works.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "quantize/quant_policy.h"

namespace edgellm::bench {

struct SyntheticShape {
  std::string_view name;  // "qwen2-0.5b", ...
  std::string_view arch;  // GGUF general.architecture: llama | qwen2 | deepseek2
  std::string_view real_model;  // what the shape is taken from
  int64_t n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
  int64_t n_ff = 0, n_vocab = 0, n_ctx = 0;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;
  float yarn_factor = 0.0f;      // > 0: YaRN RoPE scaling (DeepSeek-V2)
  int64_t yarn_orig_ctx = 0;
  float yarn_log_multiplier = 0.0f;  // rope.scaling.yarn_log_multiplier (0.1 * mscale_all_dim)
  // deepseek2 only (MLA + DeepSeekMoE); zero elsewhere.
  int64_t q_lora_rank = 0, kv_lora_rank = 0, rope_dim = 0, nope_dim = 0, v_dim = 0;
  int64_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0, n_ff_exp = 0, n_dense_lead = 0;
};

// The table of shapes (real models, then tiny test variants "tiny-*").
const std::vector<SyntheticShape>& synthetic_shapes();
// The shape called `name`; throws edgellm::Error listing the choices.
const SyntheticShape& synthetic_shape(std::string_view name);
std::string synthetic_shape_names();  // "qwen2-0.5b, qwen2-1.5b, ..."

// TYPE of --type: q4_0 q8_0 q4_k_m q6_k f16 ... (any llama.cpp mixture name, any case), as
// llama-quantize would make it. Throws edgellm::Error listing the choices.
quantize::QuantScheme synthetic_scheme(std::string_view type);

// Names, dims and types of the file's tensors in file order, as the mixture assigns them.
std::vector<quantize::TensorDesc> synthetic_tensors(const SyntheticShape& shape,
                                                    const quantize::QuantScheme& scheme);

// Writes the model to `path` (through PATH.partial, renamed when complete). Deterministic for
// a given seed.
void write_synthetic_model(const SyntheticShape& shape, const quantize::QuantScheme& scheme,
                           const std::filesystem::path& path, uint64_t seed = 1);

// Where `edgellm bench --synthetic` caches a model: $EDGELLM_CACHE_DIR when set, else
// ${TMPDIR:-/tmp}/edgellm-synthetic; the file name is "<shape>-<TYPE>-v<N>.gguf" (N changes
// whenever the generator's output does, so a stale cache is never reused).
std::filesystem::path synthetic_cache_path(const SyntheticShape& shape, const quantize::QuantScheme& scheme);

// The cached file, written first when absent. Returns its path.
std::filesystem::path ensure_synthetic_model(const SyntheticShape& shape, const quantize::QuantScheme& scheme);

}  // namespace edgellm::bench
