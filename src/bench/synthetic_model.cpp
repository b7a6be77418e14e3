#include "bench/synthetic_model.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/random_weights.h"
#include "core/error.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::bench {

namespace {

namespace key = gguf::key;
namespace tn = gguf::tensor;
using gguf::block_tensor;
using quantize::TensorDesc;

// Bump when the bytes the generator writes change, so cached files are regenerated.
constexpr int kGeneratorVersion = 1;

SyntheticShape dense(std::string_view name, std::string_view arch, std::string_view real, int64_t embd,
                     int64_t layers, int64_t heads, int64_t kv_heads, int64_t ff, int64_t vocab, int64_t ctx,
                     bool qkv_bias, float rope_base, float eps) {
  SyntheticShape s;
  s.name = name, s.arch = arch, s.real_model = real;
  s.n_embd = embd, s.n_layer = layers, s.n_head = heads, s.n_head_kv = kv_heads, s.head_dim = embd / heads;
  s.n_ff = ff, s.n_vocab = vocab, s.n_ctx = ctx, s.tied_embeddings = true, s.qkv_bias = qkv_bias;
  s.rope_base = rope_base, s.rms_eps = eps;
  return s;
}

// DeepSeek-V2-style MLA + MoE: full-rank queries (q_lora_rank 0) unless q_lora is given.
SyntheticShape mla_moe(std::string_view name, std::string_view real, int64_t embd, int64_t layers, int64_t heads,
                       int64_t kv_lora, int64_t rope, int64_t nope, int64_t v, int64_t experts, int64_t used,
                       int64_t shared, int64_t ff_exp, int64_t ff_dense, int64_t vocab) {
  SyntheticShape s;
  s.name = name, s.arch = "deepseek2", s.real_model = real;
  s.n_embd = embd, s.n_layer = layers, s.n_head = heads, s.n_head_kv = 1, s.head_dim = nope + rope;
  s.n_ff = ff_dense, s.n_vocab = vocab, s.n_ctx = 163840, s.tied_embeddings = false;
  s.rope_base = 10000.0f, s.rms_eps = 1e-6f;
  s.yarn_factor = 40.0f, s.yarn_orig_ctx = 4096, s.yarn_log_multiplier = 0.0707f;
  s.kv_lora_rank = kv_lora, s.rope_dim = rope, s.nope_dim = nope, s.v_dim = v;
  s.n_expert = experts, s.n_expert_used = used, s.n_expert_shared = shared, s.n_ff_exp = ff_exp;
  s.n_dense_lead = 1;
  return s;
}

std::vector<SyntheticShape> make_shapes() {
  return {
      // Hugging Face config.json values of each model.
      dense("qwen2-0.5b", "qwen2", "Qwen2.5-0.5B", 896, 24, 14, 2, 4864, 151936, 32768, true, 1e6f, 1e-6f),
      dense("qwen2-1.5b", "qwen2", "Qwen2.5-1.5B", 1536, 28, 12, 2, 8960, 151936, 32768, true, 1e6f, 1e-6f),
      dense("llama-1b", "llama", "Llama-3.2-1B", 2048, 16, 32, 8, 8192, 128256, 131072, false, 5e5f, 1e-5f),
      dense("llama-3b", "llama", "Llama-3.2-3B", 3072, 28, 24, 8, 8192, 128256, 131072, false, 5e5f, 1e-5f),
      mla_moe("deepseek-v2-lite", "DeepSeek-V2-Lite", 2048, 27, 16, 512, 64, 128, 128, 64, 6, 2, 1408, 10944, 102400),
      // Tiny variants of each family for tests (rows multiples of 256 so every type fits).
      dense("tiny-qwen2", "qwen2", "test shape", 256, 2, 4, 2, 512, 512, 1024, true, 1e6f, 1e-6f),
      dense("tiny-llama", "llama", "test shape", 256, 2, 4, 2, 512, 512, 1024, false, 5e5f, 1e-5f),
      mla_moe("tiny-deepseek2", "test shape", 256, 3, 4, 256, 32, 64, 64, 8, 2, 1, 256, 512, 512),
  };
}

// A byte-level BPE tokenizer.json: the 256 bytes as GPT-2 spells them, <|endoftext|> as EOS,
// and one merge ("q z", as the loader wants at least one).
std::string byte_level_tokenizer_json() {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  int unprintable = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : 256u + static_cast<uint32_t>(unprintable++);
    std::string utf8;
    if (cp < 0x80) {
      utf8 = std::string(1, static_cast<char>(cp));
    } else {
      utf8 += static_cast<char>(0xC0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    }
    vocab[utf8] = b;
  }
  vocab["<|endoftext|>"] = 256;
  vocab["qz"] = 257;
  nlohmann::ordered_json j = {
      {"version", "1.0"},
      {"added_tokens", {{{"id", 256}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"q z"}}}},
  };
  return j.dump();
}

void write_metadata(const SyntheticShape& s, const quantize::QuantScheme& scheme, gguf::GgufWriter& w) {
  const auto u32 = [&](std::string_view suffix, int64_t v) { w.set_u32(gguf::arch_key(s.arch, suffix), static_cast<uint32_t>(v)); };
  const auto f32 = [&](std::string_view suffix, float v) { w.set_f32(gguf::arch_key(s.arch, suffix), v); };
  w.set_string(key::kArchitecture, std::string(s.arch));
  w.set_string(key::kName, fmt::format("synthetic {} ({} shape, random weights)", s.name, s.real_model));
  u32(key::kVocabSize, s.n_vocab);
  u32(key::kContextLength, s.n_ctx);
  u32(key::kEmbeddingLength, s.n_embd);
  u32(key::kBlockCount, s.n_layer);
  u32(key::kFeedForwardLength, s.n_ff);
  u32(key::kHeadCount, s.n_head);
  u32(key::kHeadCountKv, s.n_head_kv);
  f32(key::kRopeFreqBase, s.rope_base);
  f32(key::kRmsEpsilon, s.rms_eps);
  if (s.arch == "deepseek2") {
    // As our converter (and llama.cpp's) writes it: the latent cache described as one MQA head.
    u32(key::kQLoraRank, s.q_lora_rank);
    u32(key::kKvLoraRank, s.kv_lora_rank);
    u32(key::kKeyLength, s.kv_lora_rank + s.rope_dim);
    u32(key::kValueLength, s.kv_lora_rank);
    u32("attention.key_length_mla", s.nope_dim + s.rope_dim);
    u32("attention.value_length_mla", s.v_dim);
    u32(key::kRopeDimensionCount, s.rope_dim);
    u32(key::kLeadingDenseBlockCount, s.n_dense_lead);
    u32(key::kExpertFeedForwardLength, s.n_ff_exp);
    u32(key::kExpertSharedCount, s.n_expert_shared);
    u32(key::kExpertCount, s.n_expert);
    u32(key::kExpertUsedCount, s.n_expert_used);
    u32(key::kExpertGatingFunc, 1);  // softmax
    f32(key::kExpertWeightsScale, 1.0f);
  } else {
    u32(key::kRopeDimensionCount, s.head_dim);
  }
  if (s.yarn_factor > 0.0f) {
    w.set_string(gguf::arch_key(s.arch, key::kRopeScalingType), "yarn");
    f32(key::kRopeScalingFactor, s.yarn_factor);
    u32(key::kRopeScalingOrigCtx, s.yarn_orig_ctx);
    f32(key::kRopeScalingYarnLogMul, s.yarn_log_multiplier);
  }
  w.set_u32(key::kFileType, static_cast<uint32_t>(scheme.file_type));
  w.set_u32(key::kQuantizationVersion, 2);
  Tokenizer tok = Tokenizer::from_hf_files(byte_level_tokenizer_json(), R"({"eos_token":"<|endoftext|>"})");
  tok.pad_vocab_to(static_cast<int32_t>(s.n_vocab));
  tok.write_gguf_metadata(w);
}

// Every tensor of the shape with dims, all typed F32 (the policy then picks the real types).
std::vector<TensorDesc> tensor_shapes(const SyntheticShape& s) {
  std::vector<TensorDesc> t;
  const auto add = [&](std::string name, std::vector<int64_t> dims) { t.push_back({std::move(name), TensorType::F32, std::move(dims)}); };
  const int64_t E = s.n_embd;
  add(std::string(tn::kTokenEmbedding), {E, s.n_vocab});
  for (int i = 0; i < static_cast<int>(s.n_layer); ++i) {
    add(block_tensor(i, tn::kAttnNorm), {E});
    if (s.arch == "deepseek2") {
      const int64_t H = s.n_head, L = s.kv_lora_rank, dk = s.nope_dim + s.rope_dim;
      if (s.q_lora_rank > 0) {
        add(block_tensor(i, tn::kAttnQA), {E, s.q_lora_rank});
        add(block_tensor(i, tn::kAttnQANorm), {s.q_lora_rank});
        add(block_tensor(i, tn::kAttnQB), {s.q_lora_rank, H * dk});
      } else {
        add(block_tensor(i, tn::kAttnQ), {E, H * dk});
      }
      add(block_tensor(i, tn::kAttnKvAMqa), {E, L + s.rope_dim});
      add(block_tensor(i, tn::kAttnKvANorm), {L});
      add(block_tensor(i, tn::kAttnKB), {s.nope_dim, L, H});
      add(block_tensor(i, tn::kAttnVB), {L, s.v_dim, H});
      add(block_tensor(i, tn::kAttnOutput), {H * s.v_dim, E});
    } else {
      const int64_t q = s.n_head * s.head_dim, kv = s.n_head_kv * s.head_dim;
      add(block_tensor(i, tn::kAttnQ), {E, q});
      add(block_tensor(i, tn::kAttnK), {E, kv});
      add(block_tensor(i, tn::kAttnV), {E, kv});
      if (s.qkv_bias) {
        add(block_tensor(i, tn::kAttnQ, "bias"), {q});
        add(block_tensor(i, tn::kAttnK, "bias"), {kv});
        add(block_tensor(i, tn::kAttnV, "bias"), {kv});
      }
      add(block_tensor(i, tn::kAttnOutput), {q, E});
    }
    add(block_tensor(i, tn::kFfnNorm), {E});
    if (s.n_expert > 0 && i >= s.n_dense_lead) {
      const int64_t X = s.n_expert, F = s.n_ff_exp, shared = s.n_expert_shared * s.n_ff_exp;
      add(block_tensor(i, tn::kFfnGateInp), {E, X});
      add(block_tensor(i, tn::kFfnGateExps), {E, F, X});
      add(block_tensor(i, tn::kFfnUpExps), {E, F, X});
      add(block_tensor(i, tn::kFfnDownExps), {F, E, X});
      if (shared > 0) {
        add(block_tensor(i, tn::kFfnGateShexp), {E, shared});
        add(block_tensor(i, tn::kFfnUpShexp), {E, shared});
        add(block_tensor(i, tn::kFfnDownShexp), {shared, E});
      }
    } else {
      add(block_tensor(i, tn::kFfnGate), {E, s.n_ff});
      add(block_tensor(i, tn::kFfnUp), {E, s.n_ff});
      add(block_tensor(i, tn::kFfnDown), {s.n_ff, E});
    }
  }
  add(std::string(tn::kOutputNorm), {E});
  if (!s.tied_embeddings) add(std::string(tn::kOutput), {E, s.n_vocab});
  return t;
}

size_t tensor_bytes(const TensorDesc& t) {
  int64_t rows = 1;
  for (size_t d = 1; d < t.dims.size(); ++d) rows *= t.dims[d];
  return row_bytes(t.type, t.dims[0]) * static_cast<size_t>(rows);
}

}  // namespace

const std::vector<SyntheticShape>& synthetic_shapes() {
  static const std::vector<SyntheticShape> shapes = make_shapes();  // immutable after first use
  return shapes;
}

std::string synthetic_shape_names() {
  std::string out;
  for (const SyntheticShape& s : synthetic_shapes()) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

const SyntheticShape& synthetic_shape(std::string_view name) {
  for (const SyntheticShape& s : synthetic_shapes())
    if (s.name == name) return s;
  fail("unknown synthetic model '{}'; choose one of: {}", name, synthetic_shape_names());
}

quantize::QuantScheme synthetic_scheme(std::string_view type) {
  std::string upper(type);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // The capitalised name selects llama-quantize's mixture (Q4_0 keeps a Q6_K/Q8_0 LM head as
  // real Q4_0 files do); ggml's single-format spellings like "q4_K" are not what we want here.
  const quantize::QuantScheme scheme = quantize::parse_scheme(upper);
  if (!scheme.mixture) fail("--type {}: choose a llama.cpp file type:\n{}", type, quantize::scheme_choices());
  return scheme;
}

std::vector<TensorDesc> synthetic_tensors(const SyntheticShape& shape, const quantize::QuantScheme& scheme) {
  std::vector<TensorDesc> tensors = tensor_shapes(shape);
  quantize::ModelShape ms;
  ms.arch = std::string(shape.arch);
  ms.n_layer = shape.n_layer, ms.n_head = shape.n_head, ms.n_head_kv = shape.n_head_kv, ms.n_expert = shape.n_expert;
  const std::vector<quantize::TensorChoice> choices = quantize::choose_tensor_types(ms, tensors, scheme, {});
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].type = choices[i].type;
  return tensors;
}

void write_synthetic_model(const SyntheticShape& shape, const quantize::QuantScheme& scheme,
                           const std::filesystem::path& path, uint64_t seed) {
  const std::vector<TensorDesc> tensors = synthetic_tensors(shape, scheme);
  gguf::GgufWriter w;
  write_metadata(shape, scheme, w);
  for (const TensorDesc& t : tensors) w.declare_tensor(t.name, t.type, t.dims);
  w.begin_stream(path.string());
  RandomBits rng(seed);
  std::vector<uint8_t> buffer;
  for (const TensorDesc& t : tensors) {
    buffer.resize(tensor_bytes(t));
    const std::span<uint8_t> bytes(buffer);
    if (t.name.ends_with("_norm.weight")) {
      fill_constant_f32(1.0f, bytes);
    } else {
      // Unit-variance outputs for unit-RMS inputs: sigma = 1/sqrt(row length). Biases and
      // embeddings (looked up, not multiplied) get a fixed small spread.
      const bool lookup = t.dims.size() == 1 || t.name == tn::kTokenEmbedding;
      const float sigma = lookup ? 0.1f : 1.0f / std::sqrt(static_cast<float>(t.dims[0]));
      fill_random_weights(t.type, sigma, rng, bytes);
    }
    w.write_tensor_data(t.name, bytes);
  }
  w.finish_stream();
}

std::filesystem::path synthetic_cache_path(const SyntheticShape& shape, const quantize::QuantScheme& scheme) {
  std::filesystem::path dir;
  if (const char* d = std::getenv("EDGELLM_CACHE_DIR"); d != nullptr && *d != '\0') {
    dir = d;
  } else {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::filesystem::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") / "edgellm-synthetic";
  }
  return dir / fmt::format("{}-{}-v{}.gguf", shape.name, scheme.name, kGeneratorVersion);
}

std::filesystem::path ensure_synthetic_model(const SyntheticShape& shape, const quantize::QuantScheme& scheme) {
  const std::filesystem::path path = synthetic_cache_path(shape, scheme);
  if (std::filesystem::exists(path)) return path;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) fail("cannot create the synthetic model cache directory {}: {}", path.parent_path().string(), ec.message());
  write_synthetic_model(shape, scheme, path);
  return path;
}

}  // namespace edgellm::bench
