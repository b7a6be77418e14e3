// Hyperparameters shared by the decoder-only families we run, read from GGUF metadata
// ("<arch>.*" keys, llama.cpp's spelling). Architecture-specific extras (MoE, MLA ranks, ...)
// belong to that architecture's own layer objects, not here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/rope.h"

namespace edgellm::gguf {
class GgufFile;
}

namespace edgellm::model {

struct ModelConfig {
  std::string arch;           // general.architecture
  std::string name;           // general.name (may be empty)
  int64_t n_ctx_train = 0;    // context_length
  int64_t n_embd = 0;         // embedding_length
  int64_t n_layer = 0;        // block_count
  int64_t n_ff = 0;           // feed_forward_length
  int64_t n_head = 0;         // attention.head_count
  int64_t n_head_kv = 0;      // attention.head_count_kv (default: n_head)
  int64_t head_dim_k = 0;     // attention.key_length (default: n_embd / n_head)
  int64_t head_dim_v = 0;     // attention.value_length (default: n_embd / n_head)
  int64_t n_vocab = 0;        // rows of token_embd.weight (vocab_size must agree when present)
  float rms_eps = 1e-5f;      // attention.layer_norm_rms_epsilon
  bool tied_embeddings = false;  // no output.weight: the LM head reuses token_embd.weight
  kernels::RopeParams rope;      // style is set by the architecture
};

// Reads the llama-style hyperparameters of `arch` (including RoPE scaling and, when present,
// the rope_freqs.weight frequency factors), checking each for range and consistency; throws
// edgellm::Error naming the key. rope.style is left Normal for the architecture to set.
ModelConfig read_llama_style_config(const gguf::GgufFile& file, std::string_view arch);

}  // namespace edgellm::model
