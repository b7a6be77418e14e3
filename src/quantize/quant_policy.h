// Which type each tensor of a model gets when it is quantized: the quantization schemes
// `edgellm quantize` accepts and llama.cpp's per-tensor rules for its mixtures (Q4_K_M & co.),
// written from a reading of llama.cpp's src/llama-quant.cpp (llama_tensor_get_type and friends)
// so that our files have exactly the tensor types llama-quantize would give them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/tensor_type.h"

namespace edgellm::gguf {
class GgufFile;
}

namespace edgellm::quantize {

// llama.cpp's llama_ftype values: what general.file_type records.
enum class FileType : uint32_t {
  AllF32 = 0, MostlyF16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, Q2_K = 10,
  Q3_K_S = 11, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17,
  Q6_K = 18, IQ4_NL = 25, MostlyBF16 = 32,
};

struct QuantScheme {
  std::string name;       // canonical: "Q4_K_M" for a mixture, "q4_K" for a single format
  FileType file_type;
  TensorType base_type;   // the type of most weight matrices
  bool mixture = false;   // true: llama.cpp's per-tensor rules; false: every matrix in base_type
};

// TYPE of `edgellm quantize`. llama.cpp's mixture names in capitals (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
// Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL F16 BF16 F32, and the
// llama-quantize aliases Q3_K Q4_K Q5_K for the _M mixes) select the mixture; any other
// spelling of a tensor type name (q4_0, q4_k, q4_K, iq4_nl, ...) selects that single format for
// every weight matrix (llama-quantize --pure). Unambiguous mixture names are accepted in any
// case (q4_k_m). Throws edgellm::Error listing the choices.
QuantScheme parse_scheme(std::string_view name);
std::string scheme_choices();  // one line per choice, for --help and errors

// The model hyperparameters the rules look at.
struct ModelShape {
  std::string arch;       // general.architecture
  int64_t n_layer = 0;    // block_count (or highest blk.N + 1)
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_expert = 0;   // expert_count (0: dense)
};
ModelShape read_model_shape(const gguf::GgufFile& file);

struct TensorDesc {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<int64_t> dims;  // dims[0] = row length
};

struct PolicyOptions {
  bool has_imatrix = false;      // some rules depend on it (Q4_0/Q5_0 ffn_down, IQ4_NL)
  bool keep_output_f16 = false;  // output.weight (and a tied token_embd) as F16
};

struct TensorChoice {
  TensorType type = TensorType::F32;  // what the output file holds
  bool quantizable = false;           // false: copied as it is (1-D tensors, norms, ...)
  // Set when the rule's type did not fit the row length and `type` is llama.cpp's fallback.
  std::optional<TensorType> preferred;
};

// One choice per tensor, in the order given. Rules that count tensors (use_more_bits over the
// attn_v tensors, ...) see them in llama.cpp's order: by layer, then by name.
std::vector<TensorChoice> choose_tensor_types(const ModelShape& shape,
                                              const std::vector<TensorDesc>& tensors,
                                              const QuantScheme& scheme,
                                              const PolicyOptions& options);

// llama.cpp's fallback for rows of n_cols that are no multiple of `type`'s block size (q4_K ->
// q5_0, q2_K/q3_K -> q4_0, q5_K -> q5_1, q6_K -> q8_0; F16 when even that does not fit).
TensorType fallback_type(TensorType type, int64_t n_cols);

}  // namespace edgellm::quantize
