// Synthetic benchmark models: the shapes match the real models (parameter counts as published),
// the per-tensor types are what llama.cpp's mixtures give real files, the random blocks
// dequantize to finite values of about the asked spread, and tiny variants load and run.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "bench/random_weights.h"
#include "bench/synthetic_model.h"
#include "core/error.h"
#include "kernels/quant/quant.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::bench {
namespace {

using quantize::TensorDesc;

std::map<std::string, TensorDesc> by_name(const std::vector<TensorDesc>& tensors) {
  std::map<std::string, TensorDesc> m;
  for (const TensorDesc& t : tensors) m[t.name] = t;
  return m;
}

double param_count(const std::vector<TensorDesc>& tensors) {
  double n = 0;
  for (const TensorDesc& t : tensors) {
    double e = 1;
    for (int64_t d : t.dims) e *= static_cast<double>(d);
    n += e;
  }
  return n;
}

// Exact parameter counts of the Hugging Face checkpoints (tied embeddings counted once); an
// independent check of every dimension in the table.
TEST(SyntheticShapes, ParameterCountsMatchTheRealModels) {
  const quantize::QuantScheme f16 = synthetic_scheme("f16");
  EXPECT_EQ(param_count(synthetic_tensors(synthetic_shape("qwen2-0.5b"), f16)), 494'032'768.0);
  EXPECT_EQ(param_count(synthetic_tensors(synthetic_shape("llama-1b"), f16)), 1'235'814'400.0);
  EXPECT_EQ(param_count(synthetic_tensors(synthetic_shape("qwen2-1.5b"), f16)), 1'543'714'304.0);
  EXPECT_EQ(param_count(synthetic_tensors(synthetic_shape("llama-3b"), f16)), 3'212'749'824.0);
  // DeepSeek-V2-Lite: "15.7B" on its model card; attn_kv_b is split into attn_k_b + attn_v_b
  // as in current GGUF files (same element count).
  EXPECT_EQ(param_count(synthetic_tensors(synthetic_shape("deepseek-v2-lite"), f16)), 15'706'484'224.0);
}

// Types a real llama-quantize file of the same shape has (read off llama.cpp's rules by hand:
// 896-wide rows are no multiple of 256, so Qwen2.5-0.5B's K-quants fall back to q5_0/q8_0).
TEST(SyntheticShapes, TensorTypesAreThoseOfRealMixtures) {
  using T = TensorType;
  auto q = by_name(synthetic_tensors(synthetic_shape("llama-1b"), synthetic_scheme("q4_k_m")));
  EXPECT_EQ(q.count("output.weight"), 0u);  // tied
  EXPECT_EQ(q["token_embd.weight"].type, T::Q6_K);
  EXPECT_EQ(q["blk.0.attn_v.weight"].type, T::Q6_K);   // first eighth of the layers
  EXPECT_EQ(q["blk.2.attn_v.weight"].type, T::Q4_K);
  EXPECT_EQ(q["blk.4.attn_v.weight"].type, T::Q6_K);   // every third layer after the first eighth
  EXPECT_EQ(q["blk.3.attn_q.weight"].type, T::Q4_K);
  EXPECT_EQ(q["blk.15.ffn_down.weight"].type, T::Q6_K);
  EXPECT_EQ(q["blk.3.ffn_down.weight"].type, T::Q4_K);
  EXPECT_EQ(q["blk.3.attn_norm.weight"].type, T::F32);

  q = by_name(synthetic_tensors(synthetic_shape("qwen2-0.5b"), synthetic_scheme("Q4_K_M")));
  EXPECT_EQ(q["token_embd.weight"].type, T::Q8_0);
  EXPECT_EQ(q["blk.5.attn_q.weight"].type, T::Q5_0);
  EXPECT_EQ(q["blk.0.attn_v.weight"].type, T::Q8_0);
  EXPECT_EQ(q["blk.5.attn_q.bias"].type, T::F32);
  EXPECT_EQ(q["blk.0.ffn_down.weight"].type, T::Q6_K);  // 4864 = 19 x 256

  q = by_name(synthetic_tensors(synthetic_shape("llama-1b"), synthetic_scheme("q4_0")));
  EXPECT_EQ(q["token_embd.weight"].type, T::Q6_K);  // llama.cpp keeps the LM head at 6 bits
  EXPECT_EQ(q["blk.7.ffn_up.weight"].type, T::Q4_0);
  q = by_name(synthetic_tensors(synthetic_shape("qwen2-0.5b"), synthetic_scheme("q8_0")));
  EXPECT_EQ(q["token_embd.weight"].type, T::Q8_0);
  EXPECT_EQ(q["blk.7.ffn_down.weight"].type, T::Q8_0);
  q = by_name(synthetic_tensors(synthetic_shape("qwen2-0.5b"), synthetic_scheme("q6_k")));
  EXPECT_EQ(q["blk.7.ffn_down.weight"].type, T::Q6_K);
  EXPECT_EQ(q["blk.7.ffn_up.weight"].type, T::Q8_0);  // 896 columns: q6_K's fallback
  q = by_name(synthetic_tensors(synthetic_shape("qwen2-0.5b"), synthetic_scheme("f16")));
  EXPECT_EQ(q["blk.7.ffn_up.weight"].type, T::F16);
  EXPECT_EQ(q["output_norm.weight"].type, T::F32);

  q = by_name(synthetic_tensors(synthetic_shape("deepseek-v2-lite"), synthetic_scheme("q4_k_m")));
  EXPECT_EQ(q["output.weight"].type, T::Q6_K);
  EXPECT_EQ(q["token_embd.weight"].type, T::Q4_K);
  EXPECT_EQ(q["blk.3.attn_k_b.weight"].type, T::Q5_0);  // 128-wide rows
  EXPECT_EQ(q["blk.3.ffn_gate_inp.weight"].type, T::F32);
  EXPECT_EQ(q["blk.3.ffn_up_exps.weight"].dims, (std::vector<int64_t>{2048, 1408, 64}));
  EXPECT_EQ(q["blk.0.ffn_up.weight"].dims, (std::vector<int64_t>{2048, 10944}));
  EXPECT_EQ(q.count("blk.0.ffn_up_exps.weight"), 0u);  // the leading dense block
}

TEST(SyntheticShapes, BadNamesAreClearErrors) {
  EXPECT_THROW(synthetic_shape("qwen3-72b"), Error);
  EXPECT_THROW(synthetic_scheme("q9_9"), Error);
  try {
    synthetic_shape("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("qwen2-0.5b"), std::string::npos) << e.what();
  }
}

// Random blocks dequantize (scalar reference) to finite values whose spread is within a small
// factor of the requested one: the spreads in random_weights.cpp are order-of-magnitude
// estimates, and the tolerance only guards against a wrong scale field (orders off).
TEST(RandomWeights, BlocksDequantizeToSaneValues) {
  const float sigma = 0.05f;
  for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q2_K,
                          TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_NL,
                          TensorType::F16, TensorType::BF16, TensorType::F32}) {
    const int64_t n = 256 * 64;
    std::vector<uint8_t> bytes(row_bytes(type, n));
    RandomBits rng(5);
    fill_random_weights(type, sigma, rng, bytes);
    std::vector<float> x(static_cast<size_t>(n));
    quant::dequantize_row(type, bytes.data(), x.data(), n);
    double sum2 = 0;
    for (float v : x) {
      ASSERT_TRUE(std::isfinite(v)) << type_name(type);
      sum2 += static_cast<double>(v) * v;
    }
    const double rms = std::sqrt(sum2 / static_cast<double>(n));
    EXPECT_GT(rms, sigma / 4) << type_name(type);
    EXPECT_LT(rms, sigma * 4) << type_name(type);
  }
  std::vector<uint8_t> partial(17);
  RandomBits rng(1);
  EXPECT_THROW(fill_random_weights(TensorType::Q4_0, 0.1f, rng, partial), Error);
}

// The tiny variants of each family, in several types: the file loads, its tensors have the
// types and shapes the generator promised, the tokenizer reads back with the padded vocabulary,
// and a forward pass gives finite logits.
TEST(SyntheticModel, TinyModelsLoadAndRun) {
  test::TempDir dir("synthetic-model-test");
  for (const char* name : {"tiny-qwen2", "tiny-llama", "tiny-deepseek2"}) {
    for (const char* type : {"q4_0", "q8_0", "q4_k_m", "q6_k", "f16"}) {
      SCOPED_TRACE(std::string(name) + " " + type);
      const SyntheticShape& shape = synthetic_shape(name);
      const quantize::QuantScheme scheme = synthetic_scheme(type);
      const auto path = dir.path() / (std::string(name) + type + ".gguf");
      write_synthetic_model(shape, scheme, path);
      const auto model = model::Model::load(path.string());
      EXPECT_EQ(model->config().arch, shape.arch);
      EXPECT_EQ(model->config().n_layer, shape.n_layer);
      EXPECT_EQ(model->config().n_embd, shape.n_embd);
      EXPECT_EQ(model->config().n_vocab, shape.n_vocab);
      const auto expected = synthetic_tensors(shape, scheme);
      ASSERT_EQ(model->file().tensors().size(), expected.size());
      for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(model->file().tensors()[i].name, expected[i].name);
        EXPECT_EQ(model->file().tensors()[i].type, expected[i].type) << expected[i].name;
        EXPECT_EQ(model->file().tensors()[i].dims, expected[i].dims) << expected[i].name;
      }
      const Tokenizer tok = Tokenizer::from_gguf(model->file());
      EXPECT_EQ(tok.n_vocab(), shape.n_vocab);
      EXPECT_EQ(tok.decode(tok.encode("hello", false)), "hello");
      runtime::ThreadPool pool(1);
      runtime::SessionParams sp;
      sp.n_ctx = 16;
      runtime::Session session(*model, sp, pool);
      const std::vector<int32_t> tokens = {1, 2, 3, 4};
      const auto logits = session.eval(tokens);
      for (float v : logits) ASSERT_TRUE(std::isfinite(v));
    }
  }
}

TEST(SyntheticModel, CachePathNamesShapeAndType) {
  const auto p = synthetic_cache_path(synthetic_shape("qwen2-0.5b"), synthetic_scheme("q4_k_m")).filename().string();
  EXPECT_NE(p.find("qwen2-0.5b"), std::string::npos);
  EXPECT_NE(p.find("Q4_K_M"), std::string::npos);
}

}  // namespace
}  // namespace edgellm::bench
