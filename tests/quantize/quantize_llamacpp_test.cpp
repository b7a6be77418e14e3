// Interop with the reference llama.cpp (tools/reference/llamacpp): our quantized files load in
// llama.cpp and give the logits edgellm gives; with the reference's CLI tools (install.sh
// --with-tools), every tensor of our mixtures is byte-identical to llama-quantize's, with and
// without an imatrix written by `edgellm imatrix`, and KL base files go both ways between
// `edgellm perplexity` and llama-perplexity. Parts skip when their tool is missing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "quantize/quantize_test_util.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
const std::string kMakeModel = EDGELLM_MAKE_RANDOM_MODEL;
const std::string kRef = "node " + kSourceDir + "/tools/reference/llamacpp/llamacpp_ref.mjs";

bool reference_ready(std::string& why) {
  if (run_command("node --version").exit_code != 0) {
    why = "node is not installed";
    return false;
  }
  const CommandResult check = run_command("bash " + kSourceDir + "/tools/reference/llamacpp/install.sh --check");
  if (check.exit_code != 0) why = "reference llama.cpp not installed (bash tools/reference/llamacpp/install.sh): " + check.output;
  return check.exit_code == 0;
}

// A llama.cpp CLI tool built by install.sh --with-tools, or "".
std::string llama_tool(const std::string& name) {
  const char* dir = std::getenv("EDGELLM_LLAMACPP_DIR");
  const char* home = std::getenv("HOME");
  const fs::path base = dir ? fs::path(dir) : fs::path(home ? home : "/root") / ".cache/edgellm/llamacpp-ref";
  const fs::path tool = base / "bin" / name;
  return fs::exists(tool) ? tool.string() : "";
}

// llama-perplexity sometimes exits before its logger thread has written the last lines (more
// often through a pipe or on a busy machine), so it runs with its output in a file, again
// until the line we need is there (at most 5 times).
CommandResult run_llama_until(const std::string& cmd, const fs::path& log, const std::string& needed) {
  CommandResult r;
  for (int attempt = 0; attempt < 5; ++attempt) {
    r = run_command(cmd + " > " + log.string() + " 2>&1");
    std::ifstream in(log);
    r.output.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (r.exit_code != 0 || r.output.find(needed) != std::string::npos) break;
  }
  return r;
}

void run_ok(const std::string& cmd) {
  const CommandResult r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
}

fs::path tinystories_f32(const fs::path& dir) {
  const fs::path hf = fs::path(kSharedDir) / "models" / "tinystories-656k";
  if (!fs::exists(hf / "config.json")) return {};
  const fs::path out = dir / "tinystories-f32.gguf";
  cli_ok("convert " + hf.string() + " " + out.string() + " --type f32");
  return out;
}

std::string token_list(int n, int vocab, int seed) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string((i * 37 + seed * 11 + i * i) % vocab);
  return s;
}

// llama.cpp's logits on our quantized files against edgellm's. The engines differ in one known
// way: llama.cpp's CPU matmuls round the activations to 8 bits (Q8_0 / Q8_K blocks) before the
// dot product with quantized weights, while edgellm multiplies them in float. That perturbs the
// logits about as much as rounding the weights to Q8_0 does, so the bound is twice the RMS
// logit change edgellm measures between the F32 and Q8_0 files of the same model. A file that
// llama.cpp decoded differently (scales, nibble order, block layout) would differ by the full
// quantization effect or more, which for Q4_0 / Q4_K_M is required to be at least twice the
// engine difference. F32 files must agree to 1e-4 (both compute in float32).
void check_logits_agree(const fs::path& dir, const fs::path& f32, size_t n_vocab, const std::string& tokens) {
  const auto logits = [&](const std::string& engine, const fs::path& model) {
    const fs::path out = dir / (engine + "-" + model.stem().string() + ".f32");
    if (engine == "llamacpp") run_ok(kRef + " logits " + model.string() + " " + tokens + " " + out.string() + " --kv-type f32");
    else cli_ok("logits -m " + model.string() + " --tokens " + tokens + " --out " + out.string() + " --kv-type f32");
    return read_f32_file(out);
  };
  const std::vector<float> ours_f32 = logits("edgellm", f32);
  const LogitDiff same = compare_logits(logits("llamacpp", f32), ours_f32, n_vocab);
  EXPECT_LT(same.max_abs, 1e-4) << f32;
  double q8_effect = 0;
  for (const std::string scheme : {"Q8_0", "Q4_0", "Q4_K_M"}) {
    const fs::path q = dir / (f32.stem().string() + "-" + scheme + ".gguf");
    cli_ok("quantize " + f32.string() + " " + q.string() + " " + scheme);
    const std::vector<float> ours = logits("edgellm", q);
    const LogitDiff engines = compare_logits(logits("llamacpp", q), ours, n_vocab);
    const LogitDiff effect = compare_logits(ours_f32, ours, n_vocab);
    if (scheme == "Q8_0") q8_effect = effect.rms;
    std::printf("%s %-6s: llama.cpp vs edgellm RMS %.4f (max %.3f, top-1 %.0f%%); F32 vs %s RMS %.4f\n",
                f32.stem().c_str(), scheme.c_str(), engines.rms, engines.max_abs, 100 * engines.top1_agreement,
                scheme.c_str(), effect.rms);
    EXPECT_LE(engines.rms, 2 * q8_effect) << scheme;
    if (scheme != "Q8_0") {
      EXPECT_LE(2 * engines.rms, effect.rms) << scheme;
    }
  }
}

TEST(QuantizeLlamaCpp, OurQuantizedFilesRunInLlamaCpp) {
  std::string why;
  if (!reference_ready(why)) GTEST_SKIP() << why;
  TempDir dir("edgellm-quant-llamacpp-logits");
  // Rows of 256: real K-quant blocks (q4_K / q6_K) in Q4_K_M. Two layers keep the random
  // network from amplifying small differences chaotically (deeper random models do).
  const fs::path random = dir.path() / "random.gguf";
  run_ok(kMakeModel + " " + random.string() + " --embd 256 --ff 512 --layers 2 --heads 4 --kv-heads 2 --vocab 320");
  check_logits_agree(dir.path(), random, 320, token_list(48, 300, 3));
  const fs::path ts = tinystories_f32(dir.path());
  if (ts.empty()) GTEST_SKIP() << "../shared/models/tinystories-656k is absent: TinyStories part skipped";
  // "Once upon a time, there was a little girl named Lily. She loved to play outside ..."
  check_logits_agree(dir.path(), ts, 2048, "1,80,147,201,282,215,286,598,1662,887,1584,238,834,628,715,299,242,614,1714");
}

const std::vector<std::string> kAllMixtures = {"Q4_0",   "Q4_1",   "Q5_0",   "Q5_1",   "Q8_0",   "Q2_K",
                                               "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                                               "Q5_K_M", "Q6_K",   "IQ4_NL", "F16",    "BF16"};

void expect_same_as_llama_quantize(const fs::path& dir, const fs::path& in, const std::string& scheme,
                                   const std::string& imatrix = "") {
  const std::string tool = llama_tool("llama-quantize");
  const std::string tag = in.stem().string() + "-" + scheme + (imatrix.empty() ? "" : "-im");
  const fs::path ours = dir / (tag + "-ours.gguf"), theirs = dir / (tag + "-llama.gguf");
  const std::string im = imatrix.empty() ? "" : " --imatrix " + imatrix;
  cli_ok("quantize " + in.string() + " " + ours.string() + " " + scheme + im);
  run_ok(tool + im + " " + in.string() + " " + theirs.string() + " " + scheme + " 2");
  const std::vector<std::string> diffs = tensor_differences(ours, theirs);
  EXPECT_TRUE(diffs.empty()) << tag << ": " << diffs.size() << " tensors differ, first: " << (diffs.empty() ? "" : diffs.front());
  fs::remove(ours);
  fs::remove(theirs);
}

// Every tensor's type (the mixture policy, use_more_bits, fallbacks, tied outputs) and bytes
// (the quantizers) against llama-quantize, on three shapes: a llama whose rows fit the
// K-quants (GQA 4, 8 layers: the use_more_bits pattern is visible), a tied qwen2 with 384-wide
// rows (fallbacks, GQA 3) and, when ../shared exists, TinyStories.
TEST(QuantizeLlamaCpp, MixturesAreByteIdenticalToLlamaQuantize) {
  if (llama_tool("llama-quantize").empty())
    GTEST_SKIP() << "llama-quantize not built (bash tools/reference/llamacpp/install.sh --with-tools)";
  TempDir dir("edgellm-quant-llamacpp-mix");
  std::vector<fs::path> models = {dir.path() / "llama8.gguf", dir.path() / "qwen6.gguf"};
  run_ok(kMakeModel + " " + models[0].string() + " --embd 256 --ff 768 --layers 8 --heads 8 --kv-heads 2 --vocab 320");
  run_ok(kMakeModel + " " + models[1].string() +
         " --arch qwen2 --embd 384 --ff 1024 --layers 6 --heads 6 --kv-heads 2 --vocab 320 --tied");
  if (const fs::path ts = tinystories_f32(dir.path()); !ts.empty()) models.push_back(ts);
  for (const fs::path& m : models)
    for (const std::string& scheme : kAllMixtures) expect_same_as_llama_quantize(dir.path(), m, scheme);
}

// The imatrix written by `edgellm imatrix` (llama.cpp's legacy .dat) drives llama-quantize
// exactly as it drives our quantizer: same entries, same per-column weights, same bytes.
TEST(QuantizeLlamaCpp, ImatrixFilesDriveBothQuantizersIdentically) {
  if (llama_tool("llama-quantize").empty())
    GTEST_SKIP() << "llama-quantize not built (bash tools/reference/llamacpp/install.sh --with-tools)";
  TempDir dir("edgellm-quant-llamacpp-imatrix");
  const fs::path model = dir.path() / "llama8.gguf", imatrix = dir.path() / "imatrix.dat";
  run_ok(kMakeModel + " " + model.string() + " --embd 256 --ff 768 --layers 8 --heads 8 --kv-heads 2 --vocab 320");
  cli_ok("imatrix -m " + model.string() + " -f " + kSourceDir + "/tests/data/stories_calib.txt -c 256 -o " +
         imatrix.string());
  for (const std::string scheme : {"Q2_K", "Q3_K_M", "Q4_K_M", "Q4_0", "Q5_0", "IQ4_NL", "Q6_K"})
    expect_same_as_llama_quantize(dir.path(), model, scheme, imatrix.string());
}

// KL base files both ways on TinyStories. Reading the same base file, both tools must report
// the same base perplexity (it is decoded from the file: any layout or decoding difference
// shows); the KL of the same Q4_K_M model may differ by llama.cpp's 8-bit activations, whose
// own effect is a KL of about Q8_0's (3% of Q4_K_M's here), so 10% is allowed.
TEST(QuantizeLlamaCpp, KlBaseFilesInterchangeWithLlamaPerplexity) {
  const std::string perplexity = llama_tool("llama-perplexity");
  if (perplexity.empty()) GTEST_SKIP() << "llama-perplexity not built (install.sh --with-tools)";
  TempDir dir("edgellm-quant-llamacpp-kl");
  const fs::path f32 = tinystories_f32(dir.path());
  if (f32.empty()) GTEST_SKIP() << "../shared/models/tinystories-656k is absent";
  const fs::path q = dir.path() / "q4km.gguf", ours = dir.path() / "ours.bin", theirs = dir.path() / "theirs.bin";
  const std::string text = kSourceDir + "/tests/data/stories_eval.txt";
  cli_ok("quantize " + f32.string() + " " + q.string() + " Q4_K_M");
  cli_ok("perplexity -m " + f32.string() + " -f " + text + " -c 128 --kl-base " + ours.string() + " --kl-format llamacpp");
  const CommandResult base_run = run_llama_until(perplexity + " -m " + f32.string() + " -f " + text + " -c 128 -t 2 " +
                                                 "--kl-divergence-base " + theirs.string(), dir.path() / "base.log",
                                                     "Final estimate");
  ASSERT_EQ(base_run.exit_code, 0) << base_run.output;
  const double their_ppl = number_after(base_run.output, "Final estimate: PPL = ");

  for (const fs::path& base : {ours, theirs}) {
    const CommandResult llama = run_llama_until(perplexity + " -m " + q.string() + " --kl-divergence-base " + base.string() +
                                                " --kl-divergence -c 128 -t 2", dir.path() / "kl.log", "Same top p:");
    ASSERT_EQ(llama.exit_code, 0) << llama.output;
    const std::string edge = cli_ok("perplexity -m " + q.string() + " --kl-compare " + base.string());
    const double edge_base = number_after(edge, "PPL(base)             :");
    const double llama_base = number_after(llama.output, "Mean PPL(base)                :");
    const double edge_kld = number_after(edge, "Mean KLD              :");
    const double llama_kld = number_after(llama.output, "Mean    KLD:");
    std::printf("%s: PPL(base) edgellm %.6f llama.cpp %.6f; KLD edgellm %.6f llama.cpp %.6f; same top %.3f / %.3f\n",
                base.stem().c_str(), edge_base, llama_base, edge_kld, llama_kld,
                number_after(edge, "Same top token        :"), number_after(llama.output, "Same top p:"));
    EXPECT_NEAR(edge_base, llama_base, 2e-6 * llama_base) << edge << llama.output;
    EXPECT_NEAR(edge_kld, llama_kld, 0.1 * llama_kld);
    EXPECT_NEAR(number_after(edge, "Same top token        :"), number_after(llama.output, "Same top p:"), 2.0);
  }
  // The base llama.cpp computed itself (its own perplexity run) is what we read from its file,
  // up to the 16-bit rounding of the stored log-probabilities.
  const std::string edge = cli_ok("perplexity -m " + q.string() + " --kl-compare " + theirs.string());
  EXPECT_NEAR(number_after(edge, "PPL(base)             :"), their_ppl, 1e-4 * their_ppl);
}

}  // namespace
}  // namespace edgellm::test
