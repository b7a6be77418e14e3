// Quantizing the real TinyStories-656K model (../shared): Q8_0 keeps the F32 model's greedy
// story, the mixtures keep its next-token choices on held-out text within measured bounds, and
// an importance matrix from separate calibration text lowers the KL divergence at the low-bit
// mixtures. TinyStories' rows (128 / 384 columns) fit no 256-block K-quant, so its "Q4_K_M"
// is llama.cpp's fallback mix (q5_0 / q8_0), exactly as llama-quantize makes it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "quantize/imatrix.h"
#include "quantize/kl_divergence.h"
#include "quantize/quantize.h"
#include "quantize/quantize_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;

class TinyStoriesQuantTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path hf = fs::path(kSharedDir) / "models" / "tinystories-656k";
    if (!fs::exists(hf / "config.json")) return;
    dir_ = std::make_unique<TempDir>("edgellm-quant-tinystories");
    f32_ = (dir_->path() / "f32.gguf").string();
    cli_ok("convert " + hf.string() + " " + f32_ + " --type f32");
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (!dir_) GTEST_SKIP() << "../shared/models/tinystories-656k is absent";
  }
  static std::string quantized(const std::string& scheme, const std::string& imatrix = "") {
    const std::string out = (dir_->path() / (scheme + (imatrix.empty() ? "" : "-im") + ".gguf")).string();
    if (!fs::exists(out)) cli_ok("quantize " + f32_ + " " + out + " " + scheme + (imatrix.empty() ? "" : " --imatrix " + imatrix));
    return out;
  }
  static std::string text(const std::string& name) {
    std::ifstream in(kSourceDir + "/tests/data/" + name);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  static std::unique_ptr<TempDir> dir_;
  static std::string f32_;
};
std::unique_ptr<TempDir> TinyStoriesQuantTest::dir_;
std::string TinyStoriesQuantTest::f32_;

// Logits of every position of `tokens` in one pass (teacher forcing).
std::vector<float> all_logits(const model::Model& m, const std::vector<int32_t>& tokens) {
  runtime::ThreadPool pool(2);
  runtime::SessionParams p;
  p.n_ctx = static_cast<int64_t>(tokens.size());
  p.kv_type = runtime::KvType::F32;
  runtime::Session s(m, p, pool);
  const auto l = s.eval(tokens, static_cast<int64_t>(tokens.size()));
  return {l.begin(), l.end()};
}

// Greedy decoding of argmax chains over the same prompt.
std::vector<int32_t> greedy(const model::Model& m, std::vector<int32_t> seq, int steps, std::vector<float>* margins) {
  const int64_t n_vocab = m.config().n_vocab;
  for (int i = 0; i < steps; ++i) {
    const std::vector<float> l = all_logits(m, seq);
    const float* row = l.data() + (seq.size() - 1) * static_cast<size_t>(n_vocab);
    int32_t best = 0;
    for (int32_t v = 1; v < n_vocab; ++v)
      if (row[v] > row[best]) best = v;
    float second = -INFINITY;
    for (int32_t v = 0; v < n_vocab; ++v)
      if (v != best) second = std::max(second, row[v]);
    if (margins) margins->push_back(row[best] - second);
    seq.push_back(best);
  }
  return seq;
}

// Q8_0 and the F32 model tell the same greedy story. Along the F32 story (128 tokens, teacher
// forced through both models):
//  * Q8_0 moves no logit by more than 0.5 (measured: at most 0.22; 8-bit weights perturb each
//    dot product by ~2^-8 of its terms, a broken format moves logits by whole units);
//  * Q8_0 picks the F32 token at >= 95% of the steps (held-out text gives 98.1%, i.e. 125.6
//    of 128 expected, binomial sd 1.5 steps: the bound is 3 sd below);
//  * Q8_0's own greedy story equals the F32 story for the first N tokens, with N the first step
//    where F32's gap between its top two tokens is less than twice the largest logit change
//    Q8_0 makes there: before it no choice can flip, at it one may (a near-tie in the F32
//    model itself, which real quantizers cannot be expected to resolve the same way). For
//    "Once upon a time" N = 5: the sixth choice has a gap of 0.048 nats; the stories actually
//    part at token 13 ("house with" / "house.").
TEST_F(TinyStoriesQuantTest, Q8_0KeepsTheGreedyStory) {
  constexpr int kSteps = 128;
  const auto f32 = model::Model::load(f32_);
  const auto q8 = model::Model::load(quantized("Q8_0"));
  const std::vector<int32_t> prompt = Tokenizer::from_gguf(f32->file()).encode("Once upon a time", true, false);
  const int64_t n_vocab = f32->config().n_vocab;
  std::vector<float> margins;
  const std::vector<int32_t> story = greedy(*f32, prompt, kSteps, &margins);
  const std::vector<float> a = all_logits(*f32, story), b = all_logits(*q8, story);
  int agree = 0, safe_prefix = -1;
  double largest_move = 0;
  for (int i = 0; i < kSteps; ++i) {
    const size_t row = (prompt.size() - 1 + static_cast<size_t>(i)) * static_cast<size_t>(n_vocab);
    double moved = 0;
    size_t best = 0;
    for (int64_t v = 0; v < n_vocab; ++v) {
      moved = std::max(moved, std::abs(static_cast<double>(a[row + v]) - b[row + v]));
      if (b[row + v] > b[row + best]) best = static_cast<size_t>(v);
    }
    largest_move = std::max(largest_move, moved);
    agree += static_cast<int>(best) == story[prompt.size() + static_cast<size_t>(i)];
    if (safe_prefix < 0 && margins[static_cast<size_t>(i)] <= 2 * moved) safe_prefix = i;
  }
  if (safe_prefix < 0) safe_prefix = kSteps;
  const std::vector<int32_t> q8_story = greedy(*q8, prompt, kSteps, nullptr);
  int same = 0;
  while (same < kSteps && q8_story[prompt.size() + static_cast<size_t>(same)] == story[prompt.size() + static_cast<size_t>(same)]) ++same;
  std::printf("largest Q8_0 logit change %.3f; Q8_0 picks the F32 token at %d of %d steps; no flip possible "
              "before step %d; the greedy stories agree for %d tokens\n",
              largest_move, agree, kSteps, safe_prefix, same);
  EXPECT_LT(largest_move, 0.5);
  EXPECT_GE(agree, 122);  // 95% of 128
  ASSERT_GE(safe_prefix, 5) << "the F32 story became ambiguous earlier than measured";
  EXPECT_GE(same, safe_prefix);
  const std::string text = cli_ok("run -m " + quantized("Q8_0") + " -p 'Once upon a time' -n 24 --temp 0 --kv-type f32");
  EXPECT_NE(text.find("Once upon a time, a little girl named Lily lived in a small house"), std::string::npos) << text;
}

// Next-token agreement on held-out text (tests/data/stories_eval.txt, 1323 scored tokens at
// -c 128). Measured: Q8_0 98.1% same top-1, mean KLD 0.00033; Q4_K_M 91.0%, 0.0102; Q2_K
// (all q4_0 here) 82.8%, 0.054. The computation is deterministic; the bounds sit ~3-4 binomial
// standard deviations (0.4-1.0 points at n = 1323) below the measured agreement and 2-3x above
// the measured KL, so they fail when a format or the policy gets worse (a wrong scale or
// block layout gives KLD > 1 and agreement < 50%), not on noise.
TEST_F(TinyStoriesQuantTest, MixturesKeepTheNextTokenChoices) {
  const fs::path base = dir_->path() / "base.bin";
  cli_ok("perplexity -m " + f32_ + " -f " + kSourceDir + "/tests/data/stories_eval.txt -c 128 --kl-base " + base.string());
  struct Bound {
    std::string scheme;
    double min_same_top, max_kld;
  };
  for (const Bound& b : {Bound{"Q8_0", 97.0, 0.001}, Bound{"Q4_K_M", 88.0, 0.025}, Bound{"Q2_K", 79.0, 0.12}}) {
    const std::string r = cli_ok("perplexity -m " + quantized(b.scheme) + " --kl-compare " + base.string());
    EXPECT_NE(r.find("(1323 tokens)"), std::string::npos) << r;
    const double same_top = number_after(r, "Same top token        :");
    const double kld = number_after(r, "Mean KLD              :");
    std::printf("%-7s same top-1 %.3f%%, mean KLD %.6f\n", b.scheme.c_str(), same_top, kld);
    EXPECT_GE(same_top, b.min_same_top) << b.scheme << "\n" << r;
    EXPECT_LE(kld, b.max_kld) << b.scheme << "\n" << r;
    EXPECT_GT(kld, 0.0) << b.scheme;
  }
}

// Per-token KL of `model_path` against the F32 model over the evaluation text's windows.
std::vector<double> per_token_kl(const std::string& base_path, const std::string& model_path,
                                 const std::vector<int32_t>& tokens, int64_t n_ctx) {
  const auto base = model::Model::load(base_path), m = model::Model::load(model_path);
  const int64_t n_vocab = m->config().n_vocab, first = n_ctx / 2;
  quantize::KlAccumulator acc;
  std::vector<float> lp(static_cast<size_t>(n_vocab));
  for (size_t w = 0; (w + 1) * static_cast<size_t>(n_ctx) <= tokens.size(); ++w) {
    std::vector<int32_t> win(tokens.begin() + static_cast<int64_t>(w) * n_ctx, tokens.begin() + static_cast<int64_t>(w + 1) * n_ctx);
    win[0] = 1;  // BOS, as perplexity does
    const std::vector<float> lb = all_logits(*base, win), lq = all_logits(*m, win);
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const std::span<const float> rb(lb.data() + j * n_vocab, static_cast<size_t>(n_vocab));
      quantize::log_softmax(rb, lp);
      acc.add(lp, std::span<const float>(lq.data() + j * n_vocab, static_cast<size_t>(n_vocab)), win[static_cast<size_t>(j + 1)]);
    }
  }
  return acc.kl_values();
}

// An imatrix from tests/data/stories_calib.txt (other stories than the evaluation text) lowers
// the KL divergence of the low-bit mixtures: for each token the same prediction is compared
// with and without the imatrix, and the mean of the paired differences must be negative by
// more than two standard errors. Here the imatrix acts through the fallback types (q4_0,
// q5_0, q5_1, q8_0), which use importance weights as llama.cpp's do. Measured (paired
// difference of mean KLD): Q3_K_M -0.0038 +/- 0.0007, Q4_K_S -0.0027 +/- 0.0003, both
// asserted; Q2_K (all q4_0 on this model) -0.0021 +/- 0.0013 and Q4_K_M -0.0008 are printed
// but not asserted: 1.6 and ~1 standard errors are not evidence either way.
TEST_F(TinyStoriesQuantTest, ImatrixLowersKlDivergence) {
  const fs::path imatrix = dir_->path() / "imatrix.dat";
  cli_ok("imatrix -m " + f32_ + " -f " + kSourceDir + "/tests/data/stories_calib.txt -c 128 -o " + imatrix.string());
  const auto m = model::Model::load(f32_);
  const std::vector<int32_t> tokens = Tokenizer::from_gguf(m->file()).encode(text("stories_eval.txt"), true, false);
  for (const auto& [scheme, asserted] : std::vector<std::pair<std::string, bool>>{
           {"Q2_K", false}, {"Q3_K_M", true}, {"Q4_K_S", true}, {"Q4_K_M", false}}) {
    const std::vector<double> plain = per_token_kl(f32_, quantized(scheme), tokens, 128);
    const std::vector<double> with = per_token_kl(f32_, quantized(scheme, imatrix.string()), tokens, 128);
    ASSERT_EQ(plain.size(), with.size());
    double sum = 0, sum2 = 0, mean_plain = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
      const double d = with[i] - plain[i];
      sum += d;
      sum2 += d * d;
      mean_plain += plain[i];
    }
    const double n = static_cast<double>(plain.size());
    const double mean = sum / n, se = std::sqrt((sum2 / n - mean * mean) / (n - 1));
    std::printf("%-7s mean KLD %.6f -> %.6f with imatrix (paired difference %.6f +/- %.6f)\n", scheme.c_str(),
                mean_plain / n, mean_plain / n + mean, mean, se);
    if (asserted) {
      EXPECT_LT(mean + 2 * se, 0.0) << scheme;
    }
  }
}

}  // namespace
}  // namespace edgellm::test
