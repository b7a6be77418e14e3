// Interop with the reference llama.cpp (tools/reference/llamacpp, from npm): the llama / qwen2
// GGUFs our converter writes must load in llama.cpp and give the logits edgellm gives. This
// checks the file itself: key names and meanings, tensor names, the Q/K permutation, biases,
// rope_freqs, linear and YaRN keys, tied embeddings. Skips when the reference is not installed
// (bash tools/reference/llamacpp/install.sh) or python3 lacks numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "model/model_test_util.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
const std::string kCli = EDGELLM_CLI;
const std::string kSource = EDGELLM_SOURCE_DIR;
const std::string kRef = "node " + kSource + "/tools/reference/llamacpp/llamacpp_ref.mjs";

bool reference_ready(std::string& why) {
  if (run_command("node --version").exit_code != 0) {
    why = "node is not installed";
    return false;
  }
  const CommandResult check = run_command("bash " + kSource + "/tools/reference/llamacpp/install.sh --check");
  if (check.exit_code != 0) {
    why = "reference llama.cpp not installed (bash tools/reference/llamacpp/install.sh): " + check.output;
    return false;
  }
  if (run_command("/usr/bin/python3 -c 'import numpy'").exit_code != 0) {
    why = "python3 lacks numpy";
    return false;
  }
  return true;
}

// llama-perplexity, built by install.sh --with-tools, or "".
std::string llama_perplexity_tool() {
  const char* dir = std::getenv("EDGELLM_LLAMACPP_DIR");
  const char* home = std::getenv("HOME");
  const fs::path base = dir ? fs::path(dir) : fs::path(home ? home : "/root") / ".cache/edgellm/llamacpp-ref";
  return fs::exists(base / "bin/llama-perplexity") ? (base / "bin/llama-perplexity").string() : "";
}

// llama-perplexity's last lines come from a logger thread that may not have flushed them when
// the process exits under load: its output goes to a file, and the run is repeated (at most 4
// times) until `needed` is in it.
std::string run_llama_perplexity(const std::string& args, const fs::path& log, const std::string& needed) {
  std::string out;
  for (int attempt = 0; attempt < 4 && out.find(needed) == std::string::npos; ++attempt) {
    run_command(llama_perplexity_tool() + " " + args + " > " + log.string() + " 2>&1");
    std::ifstream in(log);
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

struct PplResult {
  double ppl = -1, err = -1;
  int chunks = 0;
};

// "[1]12.3,[2]11.9,..." then "Final estimate: PPL = X +/- Y".
PplResult parse_perplexity(const std::string& out) {
  PplResult r;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+))"))) {
    r.ppl = std::stod(m[1]);
    r.err = std::stod(m[2]);
  }
  const std::regex chunk(R"(\[([0-9]+)\][0-9.]+,)");
  for (std::sregex_iterator it(out.begin(), out.end(), chunk), end; it != end; ++it)
    r.chunks = std::max(r.chunks, std::stoi((*it)[1]));
  return r;
}

void run_ok(const std::string& cmd) {
  const CommandResult r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
}

class LlamaLlamaCppTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LlamaLlamaCppTest, LlamaCppLoadsOurFileAndAgrees) {
  std::string why;
  if (!reference_ready(why)) GTEST_SKIP() << why;
  const std::string variant = GetParam();
  TempDir tmp("edgellm-llamacpp-" + variant);
  const fs::path hf = tmp.path() / "hf", gguf = tmp.path() / "m.gguf";
  run_ok("/usr/bin/python3 " + kSource + "/tests/model/make_tiny_model.py " + hf.string() + " --variant " + variant);
  run_ok(kCli + " convert " + hf.string() + " " + gguf.string() + " --type f32");
  // 70 ids: past the original context of the YaRN variants (32 and 64).
  std::string tokens;
  for (int i = 0; i < 70; ++i) {
    if (i > 0) tokens += ',';
    tokens += std::to_string((i * 97 + 13) % 266);
  }
  const fs::path ours = tmp.path() / "ours.f32", theirs = tmp.path() / "theirs.f32";
  run_ok(kRef + " logits " + gguf.string() + " " + tokens + " " + theirs.string() + " --kv-type f32");
  for (const std::string extra : {"", "--batch 1"}) {
    run_ok(kCli + " logits -m " + gguf.string() + " --tokens " + tokens + " --out " + ours.string() +
           " --kv-type f32 " + extra);
    const std::vector<float> a = read_f32_file(ours), b = read_f32_file(theirs);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    double max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      max_abs = std::max(max_abs, std::abs(static_cast<double>(a[i]) - b[i]));
      max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
    }
    // Both compute in float32 from the same F32 file and cache, in different orders; logits
    // reach ~50 for the tied variants. 1e-4 of the largest logit (about 10x the float32
    // accumulation error); a layout or key mistake gives O(1) differences.
    EXPECT_LT(max_abs, 1e-4 * max_ref + 1e-4) << variant << " " << extra << " (largest logit " << max_ref << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, LlamaLlamaCppTest,
                         ::testing::Values("llama_gqa", "llama_mha_tied", "llama_bias_linear",
                                           "llama3_rope", "llama_yarn", "mistral", "qwen2",
                                           "qwen2_yarn"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// TinyStories (real weights, real tokenizer): llama.cpp tokenizes the prompt like we do, its
// greedy continuation of our F32 file is ours, and it reads our Q8_0 file to the same logits
// up to its own activation quantization.
TEST(TinyStoriesLlamaCpp, SameTokensGreedyContinuationAndQ8Logits) {
  const fs::path model = fs::path(EDGELLM_SHARED_DIR) / "models/tinystories-656k";
  if (!fs::exists(model / "model.safetensors")) GTEST_SKIP() << model << " is absent";
  std::string why;
  if (!reference_ready(why)) GTEST_SKIP() << why;
  TempDir tmp("edgellm-llamacpp-ts");
  const fs::path gguf = tmp.path() / "ts.gguf", q8 = tmp.path() / "ts-q8.gguf";
  run_ok(kCli + " convert " + model.string() + " " + gguf.string() + " --type f32");
  const CommandResult tok = run_command(kRef + " tokenize " + gguf.string() + " 'Once upon a time'");
  ASSERT_EQ(tok.exit_code, 0) << tok.output;
  EXPECT_NE(tok.output.find("1,80,147,201,282,57"), std::string::npos) << tok.output;
  const CommandResult theirs = run_command(kRef + " greedy " + gguf.string() + " 1,80,147,201,282,57 24");
  ASSERT_EQ(theirs.exit_code, 0) << theirs.output;
  // Our greedy ids for the same prompt, from the logits of each extended prefix.
  std::string ids = "1,80,147,201,282,57", generated;
  const fs::path out = tmp.path() / "o.f32";
  for (int i = 0; i < 24; ++i) {
    run_ok(kCli + " logits -m " + gguf.string() + " --tokens " + ids + " --out " + out.string());
    const std::vector<float> lg = read_f32_file(out);
    const size_t base = lg.size() - 2048;
    size_t best = 0;
    for (size_t v = 1; v < 2048; ++v)
      if (lg[base + v] > lg[base + best]) best = v;
    ids += ',';
    ids += std::to_string(best);
    if (i > 0) generated += ',';
    generated += std::to_string(best);
  }
  EXPECT_NE(theirs.output.find(generated), std::string::npos) << "ours:   " << generated << "\ntheirs: " << theirs.output;

  run_ok(kCli + " convert " + model.string() + " " + q8.string() + " --type q8_0");
  const fs::path a_path = tmp.path() / "a.f32", b_path = tmp.path() / "b.f32";
  run_ok(kCli + " logits -m " + q8.string() + " --tokens " + ids + " --kv-type f32 --out " + a_path.string());
  run_ok(kRef + " logits " + q8.string() + " " + ids + " " + b_path.string() + " --kv-type f32");
  const std::vector<float> a = read_f32_file(a_path), b = read_f32_file(b_path);
  ASSERT_EQ(a.size(), b.size());
  double max_abs = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_abs = std::max(max_abs, std::abs(static_cast<double>(a[i]) - b[i]));
    max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
  }
  // Same Q8_0 weights; llama.cpp also rounds every activation to Q8_0 (up to 1/254 of a
  // block's largest value) where we keep float32. Measured against the F32 model: ours within
  // 1.2% of the logit scale, llama.cpp's within 2.1%, each other within 2%. 5e-2 allows for
  // that; a misread block (scale, sign, nibble order) moves logits by O(1).
  EXPECT_LT(max_abs, 5e-2 * max_ref) << "largest logit " << max_ref;
}

// `edgellm perplexity` against llama-perplexity on TinyStories: same windows (count and layout,
// BOS in front of each), same scored half, same final line, and the same numbers.
TEST(TinyStoriesLlamaCpp, PerplexityMatchesLlamaPerplexity) {
  const fs::path model = fs::path(EDGELLM_SHARED_DIR) / "models/tinystories-656k";
  if (!fs::exists(model / "model.safetensors")) GTEST_SKIP() << model << " is absent";
  if (llama_perplexity_tool().empty())
    GTEST_SKIP() << "llama-perplexity not built (bash tools/reference/llamacpp/install.sh --with-tools)";
  TempDir tmp("edgellm-llamacpp-ppl");
  const fs::path gguf = tmp.path() / "ts.gguf";
  run_ok(kCli + " convert " + model.string() + " " + gguf.string() + " --type f32");
  const std::string text = kSource + "/tests/data/stories_eval.txt";
  for (const int ctx : {128, 256}) {
    const std::string args = " -m " + gguf.string() + " -f " + text + " -c " + std::to_string(ctx) + " -t 2";
    const CommandResult ours_run = run_command(kCli + " perplexity" + args);
    ASSERT_EQ(ours_run.exit_code, 0) << ours_run.output;
    const std::string theirs_out = run_llama_perplexity(args, tmp.path() / "ppl.log", "Final estimate");
    const PplResult ours = parse_perplexity(ours_run.output), theirs = parse_perplexity(theirs_out);
    ASSERT_GT(theirs.ppl, 0) << theirs_out;
    std::printf("-c %d: edgellm PPL %.4f +/- %.5f over %d windows; llama.cpp %.4f +/- %.5f over %d\n", ctx, ours.ppl,
                ours.err, ours.chunks, theirs.ppl, theirs.err, theirs.chunks);
    EXPECT_EQ(ours.chunks, theirs.chunks);
    // Same F32 weights and F16 KV cache (both tools' default); the float32 sums run in
    // different orders, which moves a mean log-probability by ~1e-6. 1e-4 relative is far
    // below what one misplaced window, a missing BOS or scoring the wrong half changes (~1%+).
    EXPECT_NEAR(ours.ppl, theirs.ppl, 1e-4 * theirs.ppl);
    EXPECT_NEAR(ours.err, theirs.err, 1e-3 * theirs.err + 1e-5);  // printed to 5 decimals
  }
  // Too little text for two windows: both refuse, with the same message.
  const fs::path short_text = tmp.path() / "short.txt";
  std::ofstream(short_text) << "Once upon a time, there was a little cat. The cat liked to play in the sun.";
  const std::string args = " -m " + gguf.string() + " -f " + short_text.string() + " -c 16";
  const CommandResult ours = run_command(kCli + " perplexity" + args);
  EXPECT_NE(ours.exit_code, 0);
  EXPECT_NE(ours.output.find("you need at least 32 tokens to evaluate perplexity with a context of 16"), std::string::npos)
      << ours.output;
  EXPECT_NE(run_llama_perplexity(args, tmp.path() / "short.log", "you need at least")
                .find("you need at least 32 tokens to evaluate perplexity with a context of 16"),
            std::string::npos);
}

}  // namespace
}  // namespace edgellm::test
