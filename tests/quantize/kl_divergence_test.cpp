// KL-divergence statistics against independent long-double computations, both base-file
// payloads (layout, round trip, llama.cpp's 16-bit packing), malformed files, and the
// perplexity command's --kl-base / --kl-compare (identical models: KL 0, ratio 1 exactly).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "quantize/kl_divergence.h"
#include "quantize/quantize_test_util.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
using quantize::KlAccumulator;
using quantize::KlFormat;

std::vector<float> random_logits(size_t n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<long double> reference_log_softmax(const float* l, size_t n) {
  long double max = l[0], sum = 0;
  for (size_t i = 0; i < n; ++i) max = std::max<long double>(max, l[i]);
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<long double>(l[i]) - max);
  std::vector<long double> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = l[i] - max - std::log(sum);
  return out;
}

std::vector<float> log_softmax_of(std::span<const float> logits) {
  std::vector<float> out(logits.size());
  quantize::log_softmax(logits, out);
  return out;
}

TEST(KlDivergence, LogSoftmaxIsCorrectlyRounded) {
  const std::vector<float> l = random_logits(1000, 1, 8.0f);
  const std::vector<float> got = log_softmax_of(l);
  const std::vector<long double> ref = reference_log_softmax(l.data(), l.size());
  long double total = 0;
  for (size_t i = 0; i < l.size(); ++i) {
    // Within one float rounding (plus double-precision noise) of the exact value.
    EXPECT_NEAR(got[i], static_cast<double>(ref[i]), std::abs(static_cast<double>(ref[i])) * 0x1p-23 + 1e-12) << i;
    total += std::exp(static_cast<long double>(ref[i]));
  }
  EXPECT_NEAR(static_cast<double>(total), 1.0, 1e-12);
}

TEST(KlDivergence, IdenticalDistributionsGiveZeroAndOneExactly) {
  KlAccumulator acc;
  const size_t vocab = 100;
  const std::vector<float> logits = random_logits(vocab * 200, 2);
  for (size_t r = 0; r < 200; ++r) {
    const std::span<const float> row(logits.data() + r * vocab, vocab);
    acc.add(log_softmax_of(row), row, static_cast<int32_t>(r % vocab));
  }
  const quantize::KlSummary s = acc.summary();
  EXPECT_EQ(s.count, 200);
  EXPECT_EQ(s.kld_mean, 0.0);
  EXPECT_EQ(s.kld_max, 0.0);
  EXPECT_EQ(s.kld_p99, 0.0);
  EXPECT_EQ(s.ln_ppl_ratio, 0.0);
  EXPECT_EQ(s.ppl_ratio, 1.0);
  EXPECT_EQ(s.ppl, s.ppl_base);
  EXPECT_EQ(s.same_top, 1.0);
  EXPECT_EQ(s.dp_rms, 0.0);
}

TEST(KlDivergence, StatisticsMatchAnIndependentComputation) {
  const size_t vocab = 50, rows = 120;
  const std::vector<float> base_logits = random_logits(vocab * rows, 3);
  std::vector<float> q_logits = base_logits;
  const std::vector<float> noise = random_logits(vocab * rows, 4, 0.7f);
  for (size_t i = 0; i < q_logits.size(); ++i) q_logits[i] += noise[i];

  KlAccumulator acc;
  std::vector<long double> kl, nll, nll_base;
  size_t same_top = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* b = base_logits.data() + r * vocab;
    const float* q = q_logits.data() + r * vocab;
    const auto target = static_cast<int32_t>((r * 17) % vocab);
    acc.add(log_softmax_of({b, vocab}), {q, vocab}, target);
    const std::vector<long double> lb = reference_log_softmax(b, vocab), lq = reference_log_softmax(q, vocab);
    long double k = 0;
    for (size_t i = 0; i < vocab; ++i) k += std::exp(lb[i]) * (lb[i] - lq[i]);
    kl.push_back(k);
    nll.push_back(-lq[static_cast<size_t>(target)]);
    nll_base.push_back(-lb[static_cast<size_t>(target)]);
    same_top += std::max_element(b, b + vocab) - b == std::max_element(q, q + vocab) - q;
  }
  const quantize::KlSummary s = acc.summary();
  const auto mean = [](const std::vector<long double>& v) {
    long double t = 0;
    for (long double x : v) t += x;
    return t / static_cast<long double>(v.size());
  };
  // Float32 log-probabilities: ~1e-7 relative per term.
  EXPECT_NEAR(s.kld_mean, static_cast<double>(mean(kl)), 1e-6);
  EXPECT_GT(s.kld_mean, 0.05);  // the noise is not negligible: the check is not vacuous
  EXPECT_NEAR(s.ppl, static_cast<double>(std::exp(mean(nll))), 1e-5 * s.ppl);
  EXPECT_NEAR(s.ppl_base, static_cast<double>(std::exp(mean(nll_base))), 1e-5 * s.ppl_base);
  EXPECT_NEAR(s.ppl_ratio, static_cast<double>(std::exp(mean(nll) - mean(nll_base))), 1e-5);
  EXPECT_DOUBLE_EQ(s.same_top, static_cast<double>(same_top) / rows);
  std::vector<long double> sorted = kl;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NEAR(s.kld_max, static_cast<double>(sorted.back()), 1e-6);
  EXPECT_NEAR(s.kld_median, static_cast<double>((sorted[59] + sorted[60]) / 2), 1e-6);
  // p99 of 120 values: position 0.99 * 119 = 117.81 between sorted[117] and sorted[118].
  EXPECT_NEAR(s.kld_p99, static_cast<double>(sorted[117] + 0.81L * (sorted[118] - sorted[117])), 1e-6);
  // Uncertainty of the mean KL: sqrt((E[x^2] - E[x]^2) / (n - 1)).
  long double m2 = 0;
  for (long double x : kl) m2 += x * x;
  const long double var = m2 / rows - mean(kl) * mean(kl);
  EXPECT_NEAR(s.kld_unc, static_cast<double>(std::sqrt(var / (rows - 1))), 1e-6);
}

TEST(KlDivergence, PercentileInterpolatesLikeLlamaCpp) {
  std::vector<double> v;
  for (int i = 1; i <= 101; ++i) v.push_back(102 - i);  // unsorted on purpose
  EXPECT_DOUBLE_EQ(quantize::percentile(v, 0.99), 100.0);
  EXPECT_DOUBLE_EQ(quantize::percentile(v, 0.5), 51.0);
  EXPECT_DOUBLE_EQ(quantize::percentile({0.0, 10.0}, 0.25), 2.5);
  EXPECT_DOUBLE_EQ(quantize::percentile({3.0, 1.0}, 1.0), 3.0);
  EXPECT_THROW(quantize::percentile({}, 0.5), Error);
}

TEST(KlDivergence, CutoffSkipsClampedBaseEntries) {
  KlAccumulator with_cutoff, without;
  const std::vector<float> base = {-0.1f, -3.0f, -17.0f};
  const std::vector<float> logits = {1.0f, 0.0f, -30.0f};  // the third term is positive: ~5.8e-7
  with_cutoff.add(base, logits, 0, -16.0f);
  without.add(base, logits, 0);
  const std::vector<long double> lq = reference_log_softmax(logits.data(), 3);
  long double k = 0;
  for (int i = 0; i < 2; ++i) k += std::exp(static_cast<long double>(base[i])) * (base[i] - lq[i]);
  EXPECT_NEAR(with_cutoff.summary().kld_mean, static_cast<double>(k), 1e-6);
  EXPECT_GT(without.summary().kld_mean - with_cutoff.summary().kld_mean, 5e-7);
}

struct BaseFixture {
  static constexpr int64_t kCtx = 8, kVocab = 5, kChunks = 2, kScored = kCtx - 1 - kCtx / 2;  // 3
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> windows;
  BaseFixture() {
    for (int i = 0; i < kCtx * kChunks; ++i) tokens.push_back(i % kVocab);
    for (int c = 0; c < kChunks; ++c) windows.push_back(random_logits(kScored * kVocab, 10 + c));
    windows[1][2] = -40.0f;  // far below the top: clamped in the compact payload
  }
  void write(const fs::path& path, KlFormat format) const {
    quantize::KlBaseWriter w(path, format, kCtx, kVocab, tokens);
    for (const auto& win : windows) w.add_window(win);
    w.finish();
  }
};

TEST(KlDivergence, ExactBaseFileRoundTripsBitForBit) {
  TempDir dir("edgellm-kl-exact");
  const BaseFixture f;
  const fs::path path = dir.path() / "base.bin";
  f.write(path, KlFormat::Exact);
  // magic + n_ctx + n_vocab + n_chunk + tokens + 2 windows x 3 rows x 5 floats.
  EXPECT_EQ(fs::file_size(path), 8u + 12 + 16 * 4 + 2 * 3 * 5 * 4);
  const std::vector<uint8_t> bytes = read_bytes(path);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "EDGKLB01");
  quantize::KlBaseReader r(path);
  EXPECT_EQ(r.format(), KlFormat::Exact);
  EXPECT_EQ(r.n_ctx(), 8);
  EXPECT_EQ(r.n_vocab(), 5);
  EXPECT_EQ(r.n_chunk(), 2);
  EXPECT_EQ(r.tokens(), f.tokens);
  std::vector<float> lp;
  for (const auto& win : f.windows) {
    r.read_window(lp);
    std::vector<float> expected(win.size());
    for (size_t row = 0; row < 3; ++row)
      quantize::log_softmax(std::span<const float>(win).subspan(row * 5, 5), std::span<float>(expected).subspan(row * 5, 5));
    EXPECT_EQ(lp, expected);
  }
  EXPECT_THROW(r.read_window(lp), Error);
}

TEST(KlDivergence, LlamaCppBaseFileHasItsLayoutAndPrecision) {
  TempDir dir("edgellm-kl-llama");
  const BaseFixture f;
  const fs::path path = dir.path() / "base.bin";
  f.write(path, KlFormat::LlamaCpp);
  // Rows of nv = 2 * ((5 + 1) / 2) + 4 = 10 uint16.
  EXPECT_EQ(fs::file_size(path), 8u + 12 + 16 * 4 + 2 * 3 * 10 * 2);
  const std::vector<uint8_t> bytes = read_bytes(path);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "_logits_");
  uint32_t n_ctx;
  std::memcpy(&n_ctx, bytes.data() + 8, 4);
  EXPECT_EQ(n_ctx, 8u);
  quantize::KlBaseReader r(path);
  EXPECT_EQ(r.format(), KlFormat::LlamaCpp);
  EXPECT_EQ(r.log_prob_cutoff(), -16.0f);
  std::vector<float> lp;
  for (const auto& win : f.windows) {
    r.read_window(lp);
    for (size_t row = 0; row < 3; ++row) {
      const float* l = win.data() + row * 5;
      const std::vector<long double> ref = reference_log_softmax(l, 5);
      const float max = *std::max_element(l, l + 5), min = std::max(*std::min_element(l, l + 5), max - 16);
      const double step = (max - min) / 65535.0;
      for (size_t i = 0; i < 5; ++i) {
        const double expected = l[i] > min ? static_cast<double>(ref[i])
                                           : static_cast<double>(ref[i]) + (min - l[i]);  // clamped up
        // Half a quantization step, plus float rounding of the stored scale and offset.
        EXPECT_NEAR(lp[row * 5 + i], expected, step / 2 + 1e-5) << row << " " << i;
      }
    }
  }
}

TEST(KlDivergence, MalformedBaseFilesAreRejected) {
  TempDir dir("edgellm-kl-bad");
  const BaseFixture f;
  const fs::path path = dir.path() / "base.bin";
  f.write(path, KlFormat::Exact);
  std::vector<uint8_t> bytes = read_bytes(path);
  const auto expect_error = [&](const std::vector<uint8_t>& b, const std::string& message) {
    write_bytes(path, b);
    try {
      quantize::KlBaseReader r(path);
      FAIL() << "accepted: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_error(std::vector<uint8_t>(bytes.begin(), bytes.end() - 4), "needs");
  std::vector<uint8_t> wrong = bytes;
  wrong[0] = 'X';
  expect_error(wrong, "is not a KL base file");
  expect_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10), "too short");
  // Writers check what they are given.
  EXPECT_THROW(quantize::KlBaseWriter(path, KlFormat::Exact, 8, 5, std::vector<int32_t>(7)), Error);
  quantize::KlBaseWriter w(path, KlFormat::Exact, 8, 5, f.tokens);
  EXPECT_THROW(w.add_window(std::vector<float>(4)), Error);
  w.add_window(f.windows[0]);
  EXPECT_THROW(w.finish(), Error);  // one of two windows
}

TEST(KlDivergence, PerplexityCommandComparesAgainstABaseFile) {
  TempDir dir("edgellm-kl-cli");
  TinyGgufOptions o;
  o.n_embd = 64, o.n_ff = 128, o.n_layer = 2, o.n_vocab = 300, o.n_ctx = 64;
  o.with_tokenizer = true;
  const fs::path model = dir.path() / "m.gguf", quant = dir.path() / "q.gguf", text = dir.path() / "t.txt";
  write_bytes(model, make_tiny_gguf(o));
  std::string content;
  for (int i = 0; i < 12; ++i) content += "a small cat sat on the warm mat and looked at the sun. ";
  std::ofstream(text) << content;
  const fs::path exact = dir.path() / "exact.bin", packed = dir.path() / "packed.bin";
  cli_ok("perplexity -m " + model.string() + " -f " + text.string() + " -c 64 --kl-base " + exact.string());
  cli_ok("perplexity -m " + model.string() + " -f " + text.string() + " -c 64 --kl-base " + packed.string() +
         " --kl-format llamacpp");

  const std::string same = cli_ok("perplexity -m " + model.string() + " --kl-compare " + exact.string());
  EXPECT_EQ(number_after(same, "Mean KLD              :"), 0.0) << same;
  EXPECT_EQ(number_after(same, "Maximum KLD           :"), 0.0) << same;
  EXPECT_EQ(number_after(same, "PPL(Q)/PPL(base)      :"), 1.0) << same;
  EXPECT_EQ(number_after(same, "Same top token        :"), 100.0) << same;
  // The compact payload's 16-bit log-probabilities (steps of 16/65535 nats) leave a KL of
  // order 1e-5 between identical models.
  const std::string same_packed = cli_ok("perplexity -m " + model.string() + " --kl-compare " + packed.string());
  EXPECT_LT(std::abs(number_after(same_packed, "Mean KLD              :")), 1e-3) << same_packed;
  EXPECT_EQ(number_after(same_packed, "Same top token        :"), 100.0) << same_packed;

  cli_ok("quantize " + model.string() + " " + quant.string() + " q2_k");
  const std::string q = cli_ok("perplexity -m " + quant.string() + " --kl-compare " + exact.string());
  EXPECT_GT(number_after(q, "Mean KLD              :"), 1e-4) << q;
  EXPECT_NE(number_after(q, "PPL(Q)/PPL(base)      :"), 1.0) << q;
  // 12 x 55 = 660 byte tokens: 10 windows of 64, 31 scored each.
  EXPECT_NE(q.find("(310 tokens)"), std::string::npos) << q;

  TinyGgufOptions other = o;
  other.n_vocab = 320;
  write_bytes(model, make_tiny_gguf(other));
  const CommandResult bad = run_command(kCli + " perplexity -m " + model.string() + " --kl-compare " + exact.string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("vocabulary of 300 tokens"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace edgellm::test
