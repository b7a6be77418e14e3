// End to end against the independent PyTorch reference (reference_llama.py): tiny random-weight
// llama / qwen2 checkpoints made by make_tiny_model.py, converted by `edgellm convert`, run by
// `edgellm logits` (whole-prompt prefill, token-by-token decode, and mixed batches), compared
// with the reference's logits computed in float64 on the original HF weights.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "model/model_test_util.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
const std::string kCli = EDGELLM_CLI;
const std::string kPython = "/usr/bin/python3";
const std::string kScripts = std::string(EDGELLM_SOURCE_DIR) + "/tests/model/";

bool python_ready(std::string& why) {
  if (!fs::exists(kPython)) {
    why = kPython + " is not installed";
    return false;
  }
  const CommandResult r = run_command(kPython + " -c 'import torch, numpy'");
  if (r.exit_code != 0) {
    why = "python3 lacks torch/numpy: " + r.output;
    return false;
  }
  return true;
}

// 72 pseudo-random ids below the tiny vocabularies' size (>= 266), long enough to pass the
// original context of the YaRN variants (32 and 64 positions).
std::string token_list() {
  std::string s;
  uint32_t state = 12345;
  for (int i = 0; i < 72; ++i) {
    state = state * 1103515245u + 12345u;
    if (i > 0) s += ',';
    s += std::to_string((state >> 16) % 266);
  }
  return s;
}

struct Errors {
  double max_abs = 0, max_rel = 0, rms_rel = 0;
};

Errors compare(const std::vector<float>& got, const std::vector<float>& ref) {
  Errors e;
  EXPECT_EQ(got.size(), ref.size());
  if (got.size() != ref.size() || ref.empty()) return e;
  double ref_max = 0, ref_sq = 0, d_sq = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = static_cast<double>(got[i]) - ref[i];
    e.max_abs = std::max(e.max_abs, std::abs(d));
    ref_max = std::max(ref_max, std::abs(static_cast<double>(ref[i])));
    ref_sq += static_cast<double>(ref[i]) * ref[i];
    d_sq += d * d;
  }
  e.max_rel = e.max_abs / ref_max;
  e.rms_rel = std::sqrt(d_sq / ref_sq);
  return e;
}

void run_ok(const std::string& cmd) {
  const CommandResult r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
}

class TinyModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyModelTest, ConvertedModelMatchesPyTorchReference) {
  std::string why;
  if (!python_ready(why)) GTEST_SKIP() << why;
  const std::string variant = GetParam();
  TempDir tmp("edgellm-tiny-" + variant);
  const fs::path hf = tmp.path() / "hf";
  const std::string tokens = token_list();
  run_ok(kPython + " " + kScripts + "make_tiny_model.py " + hf.string() + " --variant " + variant);
  const fs::path ref_path = tmp.path() / "ref.f32";
  run_ok(kPython + " " + kScripts + "reference_llama.py " + hf.string() + " --tokens " + tokens +
         " --out " + ref_path.string());
  const std::vector<float> ref = read_f32_file(ref_path);
  ASSERT_EQ(ref.size() % 72, 0u);

  const auto logits = [&](const std::string& type, const std::string& extra) {
    const fs::path gguf = tmp.path() / (type + ".gguf");
    if (!fs::exists(gguf)) run_ok(kCli + " convert " + hf.string() + " " + gguf.string() + " --type " + type);
    const fs::path out = tmp.path() / "out.f32";
    run_ok(kCli + " logits -m " + gguf.string() + " --tokens " + tokens + " --out " + out.string() + " " + extra);
    return read_f32_file(out);
  };

  // F32 weights and cache: only float32 rounding separates us from the float64 reference;
  // observed <= 3e-5 on logits up to ~50. 1e-4 absolute (as the issue asks) while a RoPE,
  // scaling or head-grouping mistake moves logits by O(1).
  for (const std::string extra : {"--kv-type f32", "--kv-type f32 --batch 1", "--kv-type f32 --batch 5 -t 1"}) {
    const Errors e = compare(logits("f32", extra), ref);
    EXPECT_LT(e.max_abs, 1e-4) << variant << " f32 " << extra;
  }

  // Converted types, F16 KV cache (the default). A weight rounded to F16 has relative error
  // <= 2^-11 (4.9e-4), to BF16 <= 2^-8 (3.9e-3); Q8_0 stores each block of 32 as int8 times
  // max|w|/127, an error <= max|w|/254 per weight (~0.4-1.6% of a weight for Gaussian blocks).
  // Errors of ~10 chained products add up roughly in quadrature and sharp attention (these
  // weights are chosen to make it sharp) amplifies them a few times; the bounds below are about
  // 3x the worst observed relative RMS error of the logits (f16 1.4e-3, bf16 1e-2,
  // q8_0 3e-2), while a real mistake gives a relative error of order 1.
  struct Tol { const char* type; double rms_rel, max_rel; };
  for (const Tol t : {Tol{"f16", 5e-3, 1e-2}, Tol{"bf16", 3e-2, 6e-2}, Tol{"q8_0", 1e-1, 2e-1}}) {
    const Errors e = compare(logits(t.type, ""), ref);
    EXPECT_LT(e.rms_rel, t.rms_rel) << variant << " " << t.type;
    EXPECT_LT(e.max_rel, t.max_rel) << variant << " " << t.type;
    const Errors d = compare(logits(t.type, "--batch 1"), ref);  // decode path, same bounds
    EXPECT_LT(d.rms_rel, t.rms_rel) << variant << " " << t.type << " decode";
  }

  // The GGUF itself: llama.cpp's names and type choices.
  const gguf::GgufFile f = gguf::GgufFile::open((tmp.path() / "q8_0.gguf").string());
  const std::string arch = f.get_string(gguf::key::kArchitecture);
  EXPECT_EQ(arch, variant.starts_with("qwen2") ? "qwen2" : "llama");
  EXPECT_EQ(f.get_int(gguf::key::kFileType), 7);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, TensorType::F32);
  EXPECT_EQ(f.tensor("blk.1.ffn_down.weight").type, TensorType::Q8_0);
  EXPECT_EQ(f.find_tensor("blk.0.attn_q.bias") != nullptr,
            variant.starts_with("qwen2") || variant == "llama_bias_linear");
  if (const auto* b = f.find_tensor("blk.0.attn_q.bias")) {
    EXPECT_EQ(b->type, TensorType::F32);
  }
  const bool tied = variant == "llama_mha_tied" || variant == "qwen2";
  EXPECT_EQ(f.find_tensor(gguf::tensor::kOutput) == nullptr, tied);
  EXPECT_EQ(f.find_tensor(gguf::tensor::kRopeFreqs) != nullptr, variant == "llama3_rope");
  const std::string scaling = f.get_string_or(gguf::arch_key(arch, gguf::key::kRopeScalingType), "none");
  EXPECT_EQ(scaling, variant.ends_with("yarn") ? "yarn" : variant == "llama_bias_linear" ? "linear" : "none");
  // HF's YaRN attention_factor (0.8 for llama_yarn) over the get_mscale(4) = 1 + 0.1 ln 4 that
  // llama.cpp applies itself; absent when HF's default is llama.cpp's.
  const double attn = f.get_float_or(gguf::arch_key(arch, gguf::key::kRopeScalingAttnFactor), 1.0);
  EXPECT_NEAR(attn, variant == "llama_yarn" ? 0.8 / (1.0 + 0.1 * std::log(4.0)) : 1.0, 1e-6);
  EXPECT_EQ(f.find(gguf::key::kTokenizerTokens) != nullptr, true);
}

INSTANTIATE_TEST_SUITE_P(Variants, TinyModelTest,
                         ::testing::Values("llama_gqa", "llama_mha_tied", "llama_bias_linear",
                                           "llama3_rope", "llama_yarn", "mistral", "qwen2",
                                           "qwen2_yarn"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// The real TinyStories-656K checkpoint: greedy text and logits against the reference.
TEST(TinyStories, GreedyTextAndLogitsMatchReference) {
  const fs::path model = fs::path(EDGELLM_SHARED_DIR) / "models/tinystories-656k";
  if (!fs::exists(model / "model.safetensors")) GTEST_SKIP() << model << " is absent (../shared not mounted)";
  TempDir tmp("edgellm-tinystories");
  const fs::path gguf = tmp.path() / "ts.gguf";
  run_ok(kCli + " convert " + model.string() + " " + gguf.string() + " --type f32");

  const CommandResult gen = run_command(kCli + " run -m " + gguf.string() + " -p 'Once upon a time' -n 30 --temp 0 -t 2");
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  EXPECT_NE(gen.output.find("Once upon a time, a little girl named Lily lived in a small house with her "
                            "mom, dad, and her dog, Spot,"),
            std::string::npos)
      << gen.output;
  EXPECT_NE(gen.output.find("tokens/s"), std::string::npos);
  EXPECT_NE(gen.output.find("peak RSS"), std::string::npos);

  std::string why;
  if (!python_ready(why)) GTEST_SKIP() << why;
  const std::string tokens = "1,80,147,201,282,57,313,598,303,1049,1468,267,628,333";
  const fs::path ref_path = tmp.path() / "ref.f32", out = tmp.path() / "out.f32";
  run_ok(kPython + " " + kScripts + "reference_llama.py " + model.string() + " --tokens " + tokens + " --out " + ref_path.string());
  for (const std::string extra : {"", "--batch 1"}) {
    run_ok(kCli + " logits -m " + gguf.string() + " --kv-type f32 --tokens " + tokens + " --out " + out.string() + " " + extra);
    // F32 throughout: float32 rounding only (observed 4e-6 on logits up to ~18).
    EXPECT_LT(compare(read_f32_file(out), read_f32_file(ref_path)).max_abs, 1e-4) << extra;
  }
}

}  // namespace
}  // namespace edgellm::test
