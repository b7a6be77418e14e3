// A synthetic deepseek2 GGUF with random weights, built in memory for self-contained unit tests:
// the MLA attention in either file form (split attn_k_b / attn_v_b, or the legacy attn_kv_b made
// from the same random matrix, so both forms describe the same model) and DeepSeekMoE blocks.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "kernels/quant/quant.h"

namespace edgellm::test {

struct TinyDeepseek2Options {
  int64_t n_embd = 32, n_layer = 3, n_head = 4, n_vocab = 40, n_ctx = 128, n_ff = 48;
  int64_t q_lora_rank = 0, kv_lora_rank = 32, nope = 16, rope = 8, v_dim = 12;
  int64_t n_expert = 8, n_expert_used = 2, n_shared = 1, n_ff_exp = 16, n_dense_lead = 1;
  int64_t n_group = 0, n_group_used = 0;
  bool sigmoid_with_bias = false, norm_weights = false;
  float weights_scale = 1.0f;
  bool legacy_kv_b = false;   // write attn_kv_b (old files) instead of attn_k_b + attn_v_b
  bool yarn = false;          // YaRN x4 over 32 positions with mscale_all_dim 0.707
  std::string skip_tensor;    // leave this tensor out
  uint32_t seed = 11;
};

inline std::vector<uint8_t> make_tiny_deepseek2_gguf(const TinyDeepseek2Options& o) {
  namespace key = gguf::key;
  namespace tn = gguf::tensor;
  using gguf::block_tensor;
  const std::string arch = "deepseek2";
  gguf::GgufWriter w;
  w.set_string(key::kArchitecture, arch);
  w.set_string(key::kName, "tiny-deepseek2");
  const auto u32 = [&](std::string_view s, int64_t v) { w.set_u32(gguf::arch_key(arch, s), static_cast<uint32_t>(v)); };
  const auto f32 = [&](std::string_view s, double v) { w.set_f32(gguf::arch_key(arch, s), static_cast<float>(v)); };
  u32(key::kContextLength, o.n_ctx);
  u32(key::kEmbeddingLength, o.n_embd);
  u32(key::kBlockCount, o.n_layer);
  u32(key::kFeedForwardLength, o.n_ff);
  u32(key::kHeadCount, o.n_head);
  u32(key::kQLoraRank, o.q_lora_rank);
  u32(key::kKvLoraRank, o.kv_lora_rank);
  u32(key::kRopeDimensionCount, o.rope);
  if (o.legacy_kv_b) {
    u32(key::kHeadCountKv, o.n_head);
    u32(key::kKeyLength, o.nope + o.rope);
    u32(key::kValueLength, o.v_dim);
  } else {
    u32(key::kHeadCountKv, 1);
    u32(key::kKeyLength, o.kv_lora_rank + o.rope);
    u32(key::kValueLength, o.kv_lora_rank);
    u32("attention.key_length_mla", o.nope + o.rope);
    u32("attention.value_length_mla", o.v_dim);
  }
  f32(key::kRmsEpsilon, 1e-6);
  f32(key::kRopeFreqBase, 10000.0);
  if (o.yarn) {
    w.set_string(gguf::arch_key(arch, key::kRopeScalingType), "yarn");
    f32(key::kRopeScalingFactor, 4.0);
    u32(key::kRopeScalingOrigCtx, 32);
    f32(key::kRopeScalingYarnLogMul, 0.1 * 0.707);
  }
  u32(key::kLeadingDenseBlockCount, o.n_dense_lead);
  u32(key::kExpertCount, o.n_expert);
  u32(key::kExpertUsedCount, o.n_expert_used);
  u32(key::kExpertSharedCount, o.n_shared);
  u32(key::kExpertFeedForwardLength, o.n_ff_exp);
  u32(key::kExpertGatingFunc, o.sigmoid_with_bias ? 2 : 1);
  f32(key::kExpertWeightsScale, o.weights_scale);
  if (o.norm_weights) w.set_bool(gguf::arch_key(arch, key::kExpertWeightsNorm), true);
  if (o.n_group > 0) {
    u32(key::kExpertGroupCount, o.n_group);
    u32(key::kExpertGroupUsedCount, o.n_group_used);
  }

  std::mt19937 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto random = [&](int64_t n, float scale, float offset) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = offset + scale * normal(rng);
    return v;
  };
  const auto add = [&](const std::string& name, std::vector<int64_t> dims, const std::vector<float>& v) {
    if (name == o.skip_tensor) return;
    std::vector<uint8_t> bytes(v.size() * sizeof(float));
    std::memcpy(bytes.data(), v.data(), bytes.size());
    w.add_tensor(name, TensorType::F32, std::move(dims), bytes);
  };
  const auto matrix = [&](const std::string& name, int64_t rows, int64_t cols, float gain) {
    add(name, {cols, rows}, random(rows * cols, gain / std::sqrt(static_cast<float>(cols)), 0.0f));
  };
  const auto norm = [&](const std::string& name, int64_t n) { add(name, {n}, random(n, 0.2f, 1.0f)); };

  const int64_t E = o.n_embd, H = o.n_head, dk = o.nope + o.rope, L = o.kv_lora_rank;
  add(std::string(tn::kTokenEmbedding), {E, o.n_vocab}, random(E * o.n_vocab, 1.0f, 0.0f));
  norm(std::string(tn::kOutputNorm), E);
  matrix(std::string(tn::kOutput), o.n_vocab, E, 1.0f);
  for (int i = 0; i < o.n_layer; ++i) {
    norm(block_tensor(i, tn::kAttnNorm), E);
    norm(block_tensor(i, tn::kFfnNorm), E);
    if (o.q_lora_rank > 0) {
      matrix(block_tensor(i, tn::kAttnQA), o.q_lora_rank, E, 1.0f);
      norm(block_tensor(i, tn::kAttnQANorm), o.q_lora_rank);
      matrix(block_tensor(i, tn::kAttnQB), H * dk, o.q_lora_rank, 2.0f);
    } else {
      matrix(block_tensor(i, tn::kAttnQ), H * dk, E, 2.0f);
    }
    matrix(block_tensor(i, tn::kAttnKvAMqa), L + o.rope, E, 2.0f);
    norm(block_tensor(i, tn::kAttnKvANorm), L);
    // kv_b as Hugging Face stores it: per head, nope rows of W_UK then v_dim rows of W_UV.
    const std::vector<float> kv_b = random(H * (o.nope + o.v_dim) * L, 1.5f / std::sqrt(static_cast<float>(L)), 0.0f);
    if (o.legacy_kv_b) {
      add(block_tensor(i, tn::kAttnKvB), {L, H * (o.nope + o.v_dim)}, kv_b);
    } else {
      std::vector<float> k_b(static_cast<size_t>(H * L * o.nope)), v_b;
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t j = 0; j < o.nope; ++j)
          for (int64_t r = 0; r < L; ++r)
            k_b[static_cast<size_t>((h * L + r) * o.nope + j)] = kv_b[static_cast<size_t>((h * (o.nope + o.v_dim) + j) * L + r)];
        const auto first = kv_b.begin() + (h * (o.nope + o.v_dim) + o.nope) * L;
        v_b.insert(v_b.end(), first, first + o.v_dim * L);
      }
      add(block_tensor(i, tn::kAttnKB), {o.nope, L, H}, k_b);
      add(block_tensor(i, tn::kAttnVB), {L, o.v_dim, H}, v_b);
    }
    matrix(block_tensor(i, tn::kAttnOutput), E, H * o.v_dim, 1.0f);
    if (i < o.n_dense_lead) {
      matrix(block_tensor(i, tn::kFfnGate), o.n_ff, E, 1.0f);
      matrix(block_tensor(i, tn::kFfnUp), o.n_ff, E, 1.0f);
      matrix(block_tensor(i, tn::kFfnDown), E, o.n_ff, 1.0f);
      continue;
    }
    matrix(block_tensor(i, tn::kFfnGateInp), o.n_expert, E, 3.0f);
    if (o.sigmoid_with_bias) add(block_tensor(i, tn::kFfnExpProbsBias, "bias"), {o.n_expert}, random(o.n_expert, 0.1f, 0.0f));
    const float s = 1.0f / std::sqrt(static_cast<float>(E)), sd = 1.0f / std::sqrt(static_cast<float>(o.n_ff_exp));
    add(block_tensor(i, tn::kFfnGateExps), {E, o.n_ff_exp, o.n_expert}, random(E * o.n_ff_exp * o.n_expert, s, 0.0f));
    add(block_tensor(i, tn::kFfnUpExps), {E, o.n_ff_exp, o.n_expert}, random(E * o.n_ff_exp * o.n_expert, s, 0.0f));
    add(block_tensor(i, tn::kFfnDownExps), {o.n_ff_exp, E, o.n_expert}, random(E * o.n_ff_exp * o.n_expert, sd, 0.0f));
    if (o.n_shared > 0) {
      const int64_t sf = o.n_ff_exp * o.n_shared;
      matrix(block_tensor(i, tn::kFfnGateShexp), sf, E, 1.0f);
      matrix(block_tensor(i, tn::kFfnUpShexp), sf, E, 1.0f);
      matrix(block_tensor(i, tn::kFfnDownShexp), E, sf, 1.0f);
    }
  }
  return w.write_buffer();
}

}  // namespace edgellm::test
