// The per-tensor types of each mixture, table-driven, against our reading of llama.cpp's
// src/llama-quant.cpp (the expectations below are written out per layer, not computed with the
// policy's own formulas). quantize_llamacpp_test checks the same rules against llama-quantize
// itself when the reference is installed.
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "quantize/quant_policy.h"

namespace edgellm::quantize {
namespace {

using T = TensorType;

struct FakeModel {
  ModelShape shape;
  std::vector<TensorDesc> tensors;
};

// A Llama-3-8B-like list with 16 layers: GQA 4 (32 heads over 8), untied output, every row a
// multiple of 256 so no fallback happens.
FakeModel llama16() {
  FakeModel m{{"llama", 16, 32, 8, 0}, {}};
  auto add = [&](std::string name, std::vector<int64_t> dims) { m.tensors.push_back({std::move(name), T::F32, dims}); };
  add("token_embd.weight", {4096, 32000});
  for (int i = 0; i < 16; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    add(b + "attn_norm.weight", {4096});
    add(b + "attn_q.weight", {4096, 4096});
    add(b + "attn_k.weight", {4096, 1024});
    add(b + "attn_v.weight", {4096, 1024});
    add(b + "attn_output.weight", {4096, 4096});
    add(b + "ffn_norm.weight", {4096});
    add(b + "ffn_gate.weight", {4096, 14336});
    add(b + "ffn_up.weight", {4096, 14336});
    add(b + "ffn_down.weight", {14336, 4096});
  }
  add("output_norm.weight", {4096});
  add("output.weight", {4096, 32000});
  return m;
}

// A Qwen2.5-0.5B-like list: 24 layers, 14 heads over 2 KV heads (GQA 7), tied embeddings (no
// output.weight), Q/K/V biases, and rows of 896 columns, which are no multiple of 256: every
// K-quant except ffn_down (4864 = 19 x 256 columns) falls back.
FakeModel qwen24() {
  FakeModel m{{"qwen2", 24, 14, 2, 0}, {}};
  auto add = [&](std::string name, std::vector<int64_t> dims) { m.tensors.push_back({std::move(name), T::BF16, dims}); };
  for (int i = 23; i >= 0; --i) {  // reverse order: the rules must not depend on file order
    const std::string b = fmt::format("blk.{}.", i);
    add(b + "attn_q.bias", {896});
    add(b + "attn_k.bias", {128});
    add(b + "attn_v.bias", {128});
    add(b + "attn_norm.weight", {896});
    add(b + "attn_q.weight", {896, 896});
    add(b + "attn_k.weight", {896, 128});
    add(b + "attn_v.weight", {896, 128});
    add(b + "attn_output.weight", {896, 896});
    add(b + "ffn_norm.weight", {896});
    add(b + "ffn_gate.weight", {896, 4864});
    add(b + "ffn_up.weight", {896, 4864});
    add(b + "ffn_down.weight", {4864, 896});
  }
  add("output_norm.weight", {896});
  add("token_embd.weight", {896, 151936});
  return m;
}

// Expected type of one tensor: by stem ("attn_v", "token_embd", ...) and layer (-1 outside blocks).
using Rule = std::function<T(const std::string& stem, int layer)>;

std::string stem_of(const std::string& name, int& layer) {
  layer = -1;
  std::string rest = name;
  if (rest.rfind("blk.", 0) == 0) {
    const size_t dot = rest.find('.', 4);
    layer = std::stoi(rest.substr(4, dot - 4));
    rest = rest.substr(dot + 1);
  }
  return rest.substr(0, rest.find('.'));
}

void expect_types(const FakeModel& m, const std::string& scheme_name, const PolicyOptions& options,
                  const Rule& rule) {
  const QuantScheme scheme = parse_scheme(scheme_name);
  const std::vector<TensorChoice> c = choose_tensor_types(m.shape, m.tensors, scheme, options);
  ASSERT_EQ(c.size(), m.tensors.size());
  for (size_t i = 0; i < c.size(); ++i) {
    const TensorDesc& t = m.tensors[i];
    int layer;
    const std::string stem = stem_of(t.name, layer);
    // 1-D tensors, norms and MoE routers are never quantized.
    const bool kept = t.dims.size() == 1 || stem.find("norm") != std::string::npos || stem == "ffn_gate_inp";
    const T expected = kept ? t.type : rule(stem, layer);
    EXPECT_EQ(type_name(c[i].type), type_name(expected)) << scheme_name << " " << t.name;
    EXPECT_EQ(c[i].quantizable, !kept) << t.name;
  }
}

bool in(int layer, std::set<int> layers) { return layers.count(layer) > 0; }

// use_more_bits over 16 layers: the first and last 2, and every third from layer 4.
const std::set<int> kMoreBits16 = {0, 1, 4, 7, 10, 13, 14, 15};
// ... over 24 layers: the first and last 3, and every third from layer 5.
const std::set<int> kMoreBits24 = {0, 1, 2, 5, 8, 11, 14, 17, 20, 21, 22, 23};

TEST(QuantPolicy, LlamaMixtures) {
  const FakeModel m = llama16();
  const PolicyOptions none;
  expect_types(m, "Q2_K", none, [](const std::string& s, int) {
    if (s == "output") return T::Q6_K;
    if (s == "attn_v") return T::Q4_K;  // GQA >= 4
    if (s == "attn_output" || s == "ffn_down") return T::Q3_K;
    return T::Q2_K;
  });
  expect_types(m, "Q3_K_S", none, [](const std::string& s, int) { return s == "output" ? T::Q6_K : T::Q3_K; });
  expect_types(m, "Q3_K_M", none, [](const std::string& s, int l) {
    if (s == "output") return T::Q6_K;
    if (s == "attn_v") return l < 2 ? T::Q5_K : T::Q4_K;
    if (s == "ffn_down") return l < 1 ? T::Q5_K : T::Q4_K;
    if (s == "attn_output") return T::Q4_K;
    return T::Q3_K;
  });
  expect_types(m, "Q3_K_L", none, [](const std::string& s, int) {
    if (s == "output") return T::Q6_K;
    if (s == "attn_v" || s == "ffn_down" || s == "attn_output") return T::Q5_K;
    return T::Q3_K;
  });
  expect_types(m, "Q4_K_S", none, [](const std::string& s, int l) {
    if (s == "output") return T::Q6_K;
    if (s == "attn_v") return l < 4 ? T::Q5_K : T::Q4_K;
    if (s == "ffn_down") return l < 2 ? T::Q5_K : T::Q4_K;
    return T::Q4_K;
  });
  for (const std::string name : {"Q4_K_M", "Q4_K"}) {  // Q4_K is llama-quantize's alias
    expect_types(m, name, none, [](const std::string& s, int l) {
      if (s == "output") return T::Q6_K;
      if (s == "attn_v" || s == "ffn_down") return in(l, kMoreBits16) ? T::Q6_K : T::Q4_K;
      return T::Q4_K;
    });
  }
  expect_types(m, "Q5_K_S", none, [](const std::string& s, int) { return s == "output" ? T::Q6_K : T::Q5_K; });
  expect_types(m, "Q5_K_M", none, [](const std::string& s, int l) {
    if (s == "output") return T::Q6_K;
    if (s == "attn_v" || s == "ffn_down") return in(l, kMoreBits16) ? T::Q6_K : T::Q5_K;
    return T::Q5_K;
  });
  expect_types(m, "Q6_K", none, [](const std::string&, int) { return T::Q6_K; });
  expect_types(m, "Q8_0", none, [](const std::string&, int) { return T::Q8_0; });
  expect_types(m, "Q4_0", none, [](const std::string& s, int) { return s == "output" ? T::Q6_K : T::Q4_0; });
  expect_types(m, "IQ4_NL", none, [](const std::string& s, int l) {
    if (s == "output") return T::Q6_K;
    if (s == "attn_v") return T::Q5_K;  // GQA >= 4
    if (s == "ffn_down") return l < 2 ? T::Q5_K : T::IQ4_NL;
    return T::IQ4_NL;
  });
  expect_types(m, "F16", none, [](const std::string&, int) { return T::F16; });
  expect_types(m, "BF16", none, [](const std::string&, int) { return T::BF16; });
}

TEST(QuantPolicy, ImatrixAndOutputOptionsChangeTheirRules) {
  const FakeModel m = llama16();
  PolicyOptions imatrix;
  imatrix.has_imatrix = true;
  // llama.cpp's guard for the first ffn_down layers applies only with an imatrix.
  expect_types(m, "Q4_0", imatrix, [](const std::string& s, int l) {
    if (s == "output") return T::Q6_K;
    if (s == "ffn_down") return l < 2 ? T::Q4_1 : T::Q4_0;
    return T::Q4_0;
  });
  expect_types(m, "Q5_0", imatrix, [](const std::string& s, int l) {
    if (s == "output") return T::Q6_K;
    if (s == "ffn_down") return l < 2 ? T::Q5_1 : T::Q5_0;
    return T::Q5_0;
  });
  expect_types(m, "IQ4_NL", imatrix, [](const std::string& s, int) {
    if (s == "output") return T::Q6_K;
    return s == "attn_v" ? T::Q5_K : T::IQ4_NL;
  });
  PolicyOptions keep;
  keep.keep_output_f16 = true;
  expect_types(m, "Q4_K_M", keep, [](const std::string& s, int l) {
    if (s == "output") return T::F16;
    if (s == "attn_v" || s == "ffn_down") return in(l, kMoreBits16) ? T::Q6_K : T::Q4_K;
    return T::Q4_K;
  });
}

TEST(QuantPolicy, SingleFormatsUseOneTypeEverywhere) {
  const FakeModel m = llama16();
  for (const auto& [name, type] : std::vector<std::pair<std::string, T>>{
           {"q4_k", T::Q4_K}, {"q2_K", T::Q2_K}, {"q4_0", T::Q4_0}, {"q6_k", T::Q6_K}, {"iq4_nl", T::IQ4_NL}}) {
    expect_types(m, name, {}, [type = type](const std::string&, int) { return type; });
    EXPECT_FALSE(parse_scheme(name).mixture) << name;
  }
}

TEST(QuantPolicy, QwenMixturesWithTiedEmbeddingsAndFallbacks) {
  const FakeModel m = qwen24();
  const PolicyOptions none;
  // Tied: token_embd is the output, whose rule picks q8_0 when its 896 columns do not fit the
  // base type's 256-blocks. Other 896-column K-quant tensors fall back: q4_K -> q5_0,
  // q2_K/q3_K -> q4_0, q5_K -> q5_1, q6_K -> q8_0.
  expect_types(m, "Q4_K_M", none, [](const std::string& s, int l) {
    if (s == "token_embd") return T::Q8_0;
    if (s == "attn_v") return in(l, kMoreBits24) ? T::Q8_0 : T::Q5_0;
    if (s == "ffn_down") return in(l, kMoreBits24) ? T::Q6_K : T::Q4_K;
    return T::Q5_0;
  });
  expect_types(m, "Q2_K", none, [](const std::string& s, int) {
    if (s == "token_embd") return T::Q8_0;
    if (s == "attn_v") return T::Q5_0;  // q4_K (GQA 7) falls back
    if (s == "ffn_down") return T::Q3_K;
    return T::Q4_0;
  });
  expect_types(m, "Q3_K_M", none, [](const std::string& s, int l) {
    if (s == "token_embd") return T::Q8_0;
    if (s == "attn_v") return l < 2 ? T::Q5_1 : T::Q5_0;
    if (s == "ffn_down") return l < 1 ? T::Q5_K : T::Q4_K;
    if (s == "attn_output") return T::Q5_0;
    return T::Q4_0;
  });
  expect_types(m, "Q5_K_M", none, [](const std::string& s, int l) {
    if (s == "token_embd") return T::Q8_0;
    if (s == "attn_v") return in(l, kMoreBits24) ? T::Q8_0 : T::Q5_1;
    if (s == "ffn_down") return in(l, kMoreBits24) ? T::Q6_K : T::Q5_K;
    return T::Q5_1;
  });
  // Q4_0's output rule asks for q6_K, which then falls back to q8_0.
  expect_types(m, "Q4_0", none, [](const std::string& s, int) { return s == "token_embd" ? T::Q8_0 : T::Q4_0; });
  expect_types(m, "q4_k", none, [](const std::string& s, int) { return s == "ffn_down" ? T::Q4_K : T::Q5_0; });
  PolicyOptions keep;
  keep.keep_output_f16 = true;
  expect_types(m, "Q6_K", keep, [](const std::string& s, int) {
    if (s == "token_embd") return T::F16;
    return s == "ffn_down" ? T::Q6_K : T::Q8_0;
  });

  // Fallbacks are reported with the type the rule wanted.
  const auto c = choose_tensor_types(m.shape, m.tensors, parse_scheme("Q4_K_M"), none);
  for (size_t i = 0; i < c.size(); ++i) {
    if (m.tensors[i].name == "blk.3.attn_q.weight") {
      ASSERT_TRUE(c[i].preferred.has_value());
      EXPECT_EQ(*c[i].preferred, T::Q4_K);
    }
    if (m.tensors[i].name == "blk.3.ffn_down.weight") {
      EXPECT_FALSE(c[i].preferred.has_value());
    }
  }
}

TEST(QuantPolicy, SeventyBAndEightExpertRules) {
  FakeModel m{{"llama", 80, 64, 8, 0}, {}};
  for (int i = 0; i < 80; ++i) m.tensors.push_back({fmt::format("blk.{}.attn_v.weight", i), T::F16, {8192, 1024}});
  // LLM_TYPE_70B: q3_K/q4_K attn_v becomes q5_K.
  expect_types(m, "Q4_K_S", {}, [](const std::string&, int) { return T::Q5_K; });
  expect_types(m, "Q2_K", {}, [](const std::string&, int) { return T::Q5_K; });

  FakeModel moe{{"llama", 4, 32, 8, 8}, {}};
  for (int i = 3; i >= 0; --i) {
    moe.tensors.push_back({fmt::format("blk.{}.attn_k.weight", i), T::F16, {4096, 1024}});
    moe.tensors.push_back({fmt::format("blk.{}.attn_v.weight", i), T::F16, {4096, 1024}});
    moe.tensors.push_back({fmt::format("blk.{}.attn_output.weight", i), T::F16, {4096, 4096}});
    moe.tensors.push_back({fmt::format("blk.{}.ffn_gate_inp.weight", i), T::F32, {4096, 8}});
    moe.tensors.push_back({fmt::format("blk.{}.ffn_down_exps.weight", i), T::F16, {14336, 4096, 8}});
  }
  // 8 experts: attn_k/attn_v to q8_0, attn_output to q5_K; the router stays as it is; the
  // ffn_down layer comes from the name (use_more_bits over 4 layers: layers 2 and 3).
  expect_types(moe, "Q4_K_M", {}, [](const std::string& s, int l) {
    if (s == "attn_k" || s == "attn_v") return T::Q8_0;
    if (s == "attn_output") return T::Q5_K;
    return l == 2 || l == 3 ? T::Q6_K : T::Q4_K;
  });
}

TEST(QuantPolicy, SchemeNames) {
  EXPECT_TRUE(parse_scheme("Q4_K_M").mixture);
  EXPECT_EQ(parse_scheme("Q4_K_M").file_type, FileType::Q4_K_M);
  EXPECT_EQ(parse_scheme("q4_k_m").name, "Q4_K_M");  // unambiguous: any case
  EXPECT_EQ(parse_scheme("Q5_K").name, "Q5_K_M");
  EXPECT_EQ(parse_scheme("Q3_K").file_type, FileType::Q3_K_M);
  EXPECT_EQ(parse_scheme("Q2_K").file_type, FileType::Q2_K);
  EXPECT_EQ(parse_scheme("IQ4_NL").file_type, FileType::IQ4_NL);
  EXPECT_EQ(parse_scheme("F32").file_type, FileType::AllF32);
  EXPECT_EQ(parse_scheme("BF16").file_type, FileType::MostlyBF16);
  const QuantScheme q = parse_scheme("q3_k");
  EXPECT_FALSE(q.mixture);
  EXPECT_EQ(q.base_type, T::Q3_K);
  EXPECT_EQ(q.file_type, FileType::Q3_K_S);
  EXPECT_EQ(parse_scheme("q8_0").file_type, FileType::Q8_0);
  EXPECT_EQ(parse_scheme("f16").file_type, FileType::MostlyF16);
  try {
    parse_scheme("q9_9");
    FAIL() << "q9_9 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Q4_K_M"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_scheme("q8_K"), Error);  // an activation format, not a weight format
}

TEST(QuantPolicy, FallbackChain) {
  EXPECT_EQ(fallback_type(T::Q4_K, 256), T::Q4_K);
  EXPECT_EQ(fallback_type(T::Q4_K, 384), T::Q5_0);
  EXPECT_EQ(fallback_type(T::Q2_K, 128), T::Q4_0);
  EXPECT_EQ(fallback_type(T::Q3_K, 128), T::Q4_0);
  EXPECT_EQ(fallback_type(T::Q5_K, 128), T::Q5_1);
  EXPECT_EQ(fallback_type(T::Q6_K, 96), T::Q8_0);
  EXPECT_EQ(fallback_type(T::Q4_K, 100), T::F16);   // not even 32-blocks fit
  EXPECT_EQ(fallback_type(T::Q4_0, 48), T::F16);
  EXPECT_EQ(fallback_type(T::IQ4_NL, 64), T::IQ4_NL);
}

}  // namespace
}  // namespace edgellm::quantize
