// llama.cpp's tensor type policy (src/llama-quant.cpp: tensor_allows_quantization,
// llama_tensor_get_type_impl, tensor_type_fallback), restricted to the file types we write.
// The IQ1/IQ2/IQ3 branches are left out: we do not produce those formats.
#include "quantize/quant_policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <numeric>

#include <fmt/format.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"

namespace edgellm::quantize {

namespace {

using T = TensorType;
using F = FileType;

struct MixtureName {
  std::string_view name;
  F file_type;
  T base_type;
};

// llama-quantize's names (QUANT_OPTIONS), restricted to the formats we implement.
constexpr std::array kMixtures = {
    MixtureName{"Q4_0", F::Q4_0, T::Q4_0},       MixtureName{"Q4_1", F::Q4_1, T::Q4_1},
    MixtureName{"Q5_0", F::Q5_0, T::Q5_0},       MixtureName{"Q5_1", F::Q5_1, T::Q5_1},
    MixtureName{"Q8_0", F::Q8_0, T::Q8_0},       MixtureName{"Q2_K", F::Q2_K, T::Q2_K},
    MixtureName{"Q3_K_S", F::Q3_K_S, T::Q3_K},   MixtureName{"Q3_K_M", F::Q3_K_M, T::Q3_K},
    MixtureName{"Q3_K_L", F::Q3_K_L, T::Q3_K},   MixtureName{"Q4_K_S", F::Q4_K_S, T::Q4_K},
    MixtureName{"Q4_K_M", F::Q4_K_M, T::Q4_K},   MixtureName{"Q5_K_S", F::Q5_K_S, T::Q5_K},
    MixtureName{"Q5_K_M", F::Q5_K_M, T::Q5_K},   MixtureName{"Q6_K", F::Q6_K, T::Q6_K},
    MixtureName{"IQ4_NL", F::IQ4_NL, T::IQ4_NL}, MixtureName{"F16", F::MostlyF16, T::F16},
    MixtureName{"BF16", F::MostlyBF16, T::BF16}, MixtureName{"F32", F::AllF32, T::F32},
};
// llama-quantize's aliases for the _M mixes.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kAliases = {
    {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}}};

// The single formats, with the file type llama.cpp's closest "mostly X" value names.
struct SingleFormat {
  T type;
  F file_type;
};
constexpr std::array kSingleFormats = {
    SingleFormat{T::F32, F::AllF32},   SingleFormat{T::F16, F::MostlyF16},
    SingleFormat{T::BF16, F::MostlyBF16}, SingleFormat{T::Q8_0, F::Q8_0},
    SingleFormat{T::Q4_0, F::Q4_0},    SingleFormat{T::Q4_1, F::Q4_1},
    SingleFormat{T::Q5_0, F::Q5_0},    SingleFormat{T::Q5_1, F::Q5_1},
    SingleFormat{T::Q2_K, F::Q2_K},    SingleFormat{T::Q3_K, F::Q3_K_S},
    SingleFormat{T::Q4_K, F::Q4_K_S},  SingleFormat{T::Q5_K, F::Q5_K_S},
    SingleFormat{T::Q6_K, F::Q6_K},    SingleFormat{T::IQ4_NL, F::IQ4_NL},
};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<QuantScheme> mixture_named(std::string_view name, bool exact_case) {
  for (const auto& [alias, target] : kAliases)
    if (exact_case ? name == alias : iequals(name, alias)) name = target;
  for (const MixtureName& m : kMixtures)
    if (exact_case ? name == m.name : iequals(name, m.name))
      return QuantScheme{std::string(m.name), m.file_type, m.base_type, true};
  return std::nullopt;
}

enum class Category {
  TokenEmbd, AttnQ, AttnV, AttnK, AttnQkv, AttnKvB, AttnOutput, FfnUp, FfnGate, FfnDown, Output, Other
};

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool is_token_embd(std::string_view name) {
  return name == "token_embd.weight" || name == "per_layer_token_embd.weight";
}

// llama.cpp's tensor_get_category: the first match in this order wins.
Category category_of(std::string_view name) {
  if (name == gguf::tensor::kOutput) return Category::Output;
  if (is_token_embd(name)) return Category::TokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::AttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::AttnKvB;
  if (contains(name, "attn_v.weight")) return Category::AttnV;
  if (contains(name, "attn_k.weight")) return Category::AttnK;
  if (contains(name, "attn_q.weight")) return Category::AttnQ;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_up")) return Category::FfnUp;
  if (contains(name, "ffn_gate")) return Category::FfnGate;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

// The value projections, which llama.cpp treats as the most sensitive matrices.
bool is_attn_v_like(Category c) {
  return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB;
}

// ggml_n_dims: trailing dimensions of 1 do not count.
size_t n_dims(const std::vector<int64_t>& dims) {
  size_t n = dims.size();
  while (n > 1 && dims[n - 1] == 1) --n;
  return n;
}

// llama.cpp's tensor_allows_quantization for the tensor names of the families we know, plus
// the generic exclusions (norms, MoE routers, positional tables).
bool allows_quantization(const TensorDesc& t) {
  if (n_dims(t.dims) < 2) return false;
  const std::string_view name = t.name;
  if (!name.ends_with("weight")) return false;
  for (std::string_view excluded : {"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight",
                                    "ssm_conv1d", "attn_rel_b.weight", "altup", "laurel",
                                    "per_layer_model_proj", "shortconv.conv.weight"})
    if (contains(name, excluded)) return false;
  return name != "position_embd.weight" && name != "token_types.weight";
}

// "blk.N." -> N, or -1.
int layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  name.remove_prefix(4);
  int layer = -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), layer);
  if (ec != std::errc() || end == name.data() + name.size() || *end != '.') return -1;
  return layer;
}

// The counters and facts llama.cpp keeps in quantize_state_impl.
struct PolicyState {
  const ModelShape& shape;
  F ftype;
  PolicyOptions options;
  bool tied_embeddings = true;  // until an output.weight is seen
  bool is_70b = false;          // llama.cpp's LLM_TYPE_70B, which gets a larger attn_v
  int n_attention_wv = 0, i_attention_wv = 0, i_ffn_down = 0;

  int64_t n_gqa() const { return shape.n_head_kv > 0 ? shape.n_head / shape.n_head_kv : 0; }
  bool falcon() const { return shape.arch == "falcon"; }
};

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between.
bool use_more_bits(int64_t i_layer, int64_t n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

// With experts, the layer comes from the name (expert tensors are not in layer order).
int64_t ffn_layer(const PolicyState& s, int counter, std::string_view name) {
  if (s.shape.n_expert <= 1) return counter;
  const int layer = layer_of(name);
  if (layer < 0 || layer >= s.shape.n_layer)
    fail("cannot tell the layer of tensor '{}' (expected blk.N. with N < {})", name, s.shape.n_layer);
  return layer;
}

// llama_tensor_get_type_impl for a quantized base type and a mixture.
T mixture_type(PolicyState& s, T type, const TensorDesc& t, Category cat) {
  const F f = s.ftype;
  if (cat == Category::Output || (s.tied_embeddings && cat == Category::TokenEmbd)) {
    if (s.falcon() || t.dims[0] % traits(type).block_size != 0) return T::Q8_0;
    return type == T::Q8_0 ? type : T::Q6_K;
  }
  if (cat == Category::TokenEmbd) return type;
  if (is_attn_v_like(cat)) {
    const bool more_bits = use_more_bits(s.i_attention_wv, s.n_attention_wv);
    if (f == F::Q2_K) type = s.n_gqa() >= 4 ? T::Q4_K : T::Q3_K;
    else if (f == F::Q3_K_M) type = s.i_attention_wv < 2 ? T::Q5_K : T::Q4_K;
    else if (f == F::Q3_K_L) type = T::Q5_K;
    else if (f == F::IQ4_NL && s.n_gqa() >= 4) type = T::Q5_K;
    else if ((f == F::Q4_K_M || f == F::Q5_K_M) && more_bits) type = T::Q6_K;
    else if (f == F::Q4_K_S && s.i_attention_wv < 4) type = T::Q5_K;
    if (s.is_70b && (type == T::Q3_K || type == T::Q4_K)) type = T::Q5_K;
    if (s.shape.n_expert == 8) type = T::Q8_0;
    ++s.i_attention_wv;
    return type;
  }
  if (cat == Category::AttnK) return s.shape.n_expert == 8 ? T::Q8_0 : type;
  if (cat == Category::FfnDown) {
    const int64_t i = ffn_layer(s, s.i_ffn_down, t.name), n = s.shape.n_layer;
    if (f == F::Q2_K) type = T::Q3_K;
    else if (f == F::Q3_K_M)
      type = i < n / 16 ? T::Q5_K : (!s.falcon() || use_more_bits(i, n)) ? T::Q4_K : T::Q3_K;
    else if (f == F::Q3_K_L) type = s.falcon() ? T::Q4_K : T::Q5_K;
    else if (f == F::Q4_K_M) {
      if (s.falcon()) type = i < n / 16 ? T::Q6_K : use_more_bits(i, n) ? T::Q5_K : T::Q4_K;
      else if (use_more_bits(i, n)) type = T::Q6_K;
    } else if (i < n / 8 && f == F::IQ4_NL && !s.options.has_imatrix) type = T::Q5_K;
    else if (f == F::Q5_K_M && use_more_bits(i, n)) type = T::Q6_K;
    else if (f == F::Q4_K_S && !s.falcon() && i < n / 8) type = T::Q5_K;
    else if ((f == F::Q4_0 || f == F::Q5_0) && s.options.has_imatrix && i < n / 8)
      type = f == F::Q4_0 ? T::Q4_1 : T::Q5_1;  // llama.cpp's guard for the first ffn_down layers
    ++s.i_ffn_down;
    return type;
  }
  if (cat == Category::AttnOutput) {
    if (s.falcon()) return f == F::Q3_K_L ? T::Q4_K : type;
    if (s.shape.n_expert == 8) {
      const bool bump = f == F::Q2_K || f == F::Q3_K_S || f == F::Q3_K_M || f == F::IQ4_NL ||
                        f == F::Q4_K_S || f == F::Q4_K_M;
      return bump ? T::Q5_K : type;
    }
    if (f == F::Q2_K) return T::Q3_K;
    if (f == F::Q3_K_M) return T::Q4_K;
    if (f == F::Q3_K_L) return T::Q5_K;
    return type;
  }
  // attn_q, ffn_gate, ffn_up: only the IQ3 mixes (not written here) change them. (llama.cpp's
  // separate attn_qkv branch is unreachable: attn_qkv is attn_v-like and handled above.)
  return type;
}

bool is_block_quantized(T type) { return type != T::F32 && type != T::F16 && type != T::BF16; }

}  // namespace

QuantScheme parse_scheme(std::string_view name) {
  if (auto m = mixture_named(name, true)) return *m;
  if (auto type = type_from_name(name)) {
    for (const SingleFormat& s : kSingleFormats)
      if (s.type == *type) return QuantScheme{std::string(type_name(*type)), s.file_type, *type, false};
  }
  if (auto m = mixture_named(name, false)) return *m;
  fail("unknown quantization type '{}'; choose one of:\n{}", name, scheme_choices());
}

std::string scheme_choices() {
  std::string out = "  mixtures (llama.cpp's per-tensor rules): ";
  for (const MixtureName& m : kMixtures) out += fmt::format("{} ", m.name);
  out += "(Q3_K, Q4_K, Q5_K = the _M mixes)\n  single formats (every weight matrix): ";
  for (const SingleFormat& s : kSingleFormats) out += fmt::format("{} ", type_name(s.type));
  out += "\n";
  return out;
}

ModelShape read_model_shape(const gguf::GgufFile& file) {
  ModelShape s;
  s.arch = file.get_string_or(std::string(gguf::key::kArchitecture), "");
  const auto arch_int = [&](std::string_view suffix, int64_t fallback) {
    return s.arch.empty() ? fallback : file.get_int_or(gguf::arch_key(s.arch, suffix), fallback);
  };
  int64_t highest_layer = -1;
  for (const auto& t : file.tensors()) highest_layer = std::max<int64_t>(highest_layer, layer_of(t.name));
  s.n_layer = arch_int(gguf::key::kBlockCount, highest_layer + 1);
  s.n_head = arch_int(gguf::key::kHeadCount, 0);
  s.n_head_kv = arch_int(gguf::key::kHeadCountKv, s.n_head);
  s.n_expert = arch_int(gguf::key::kExpertCount, 0);
  return s;
}

TensorType fallback_type(TensorType type, int64_t n_cols) {
  if (n_cols % traits(type).block_size == 0) return type;
  TensorType smaller = type;
  switch (type) {
    case T::Q2_K:
    case T::Q3_K: smaller = T::Q4_0; break;
    case T::Q4_K: smaller = T::Q5_0; break;
    case T::Q5_K: smaller = T::Q5_1; break;
    case T::Q6_K: smaller = T::Q8_0; break;
    default:
      if (traits(type).block_size > 32) fail("no fallback type is defined for {}", type_name(type));
  }
  return n_cols % traits(smaller).block_size == 0 ? smaller : T::F16;
}

std::vector<TensorChoice> choose_tensor_types(const ModelShape& shape,
                                              const std::vector<TensorDesc>& tensors,
                                              const QuantScheme& scheme,
                                              const PolicyOptions& options) {
  PolicyState state{shape, scheme.file_type, options};
  std::vector<Category> categories;
  for (const TensorDesc& t : tensors) {
    if (t.dims.empty()) fail("tensor '{}' has no dimensions", t.name);
    categories.push_back(category_of(t.name));
    if (is_attn_v_like(categories.back())) ++state.n_attention_wv;
    if (categories.back() == Category::Output) state.tied_embeddings = false;
  }
  state.is_70b = shape.n_layer == 80 &&
                 ((shape.arch == "llama" && shape.n_head != shape.n_head_kv) || shape.arch == "qwen2");

  // llama.cpp visits tensors sorted by layer (non-layer tensors first), then by name.
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    return la != lb ? la < lb : tensors[a].name < tensors[b].name;
  });

  std::vector<TensorChoice> choices(tensors.size());
  for (size_t i : order) {
    const TensorDesc& t = tensors[i];
    TensorChoice& c = choices[i];
    c.quantizable = allows_quantization(t);
    if (!c.quantizable) {
      c.type = t.type;
      continue;
    }
    const Category cat = categories[i];
    const bool is_output = cat == Category::Output || (state.tied_embeddings && cat == Category::TokenEmbd);
    if (options.keep_output_f16 && is_output) {
      c.type = T::F16;
      continue;
    }
    T type = scheme.base_type;
    if (!is_block_quantized(type)) {  // F32 / F16 / BF16: no rules, no block size
      c.type = type;
      continue;
    }
    if (scheme.mixture) type = mixture_type(state, type, t, cat);
    c.type = fallback_type(type, t.dims[0]);
    if (c.type != type) c.preferred = type;
  }
  return choices;
}

}  // namespace edgellm::quantize
