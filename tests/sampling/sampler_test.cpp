// The Sampler as a whole: greedy, determinism, distributions (chi-square), candidate sets,
// penalties through accept(), and validation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "sampling/sampler.h"

namespace edgellm {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Sampling without any truncation, to be narrowed down by each test.
SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams params;
  params.temperature = temperature;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  params.seed = seed;
  return params;
}

std::vector<float> logits_of(const std::vector<double>& probabilities) {
  std::vector<float> logits;
  for (double p : probabilities) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::vector<int> histogram(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts.at(static_cast<size_t>(sampler.sample(logits)));
  return counts;
}

std::set<int32_t> support(const std::vector<int>& counts) {
  std::set<int32_t> seen;
  for (size_t i = 0; i < counts.size(); ++i)
    if (counts[i] > 0) seen.insert(static_cast<int32_t>(i));
  return seen;
}

// softmax(logits / temperature) in double, independent of the sampler's code.
std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  std::vector<double> p;
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(logit / temperature);
  for (float logit : logits) p.push_back(std::exp(logit / temperature) / sum);
  return p;
}

// Pearson's statistic over the tokens with a nonzero expected probability.
double chi_square(const std::vector<int>& observed, const std::vector<double>& expected_p,
                  int draws) {
  double statistic = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected_p[i] == 0.0) continue;
    const double expected = expected_p[i] * draws;
    statistic += (observed[i] - expected) * (observed[i] - expected) / expected;
  }
  return statistic;
}

// Upper 0.1% points of the chi-square distribution. With a fixed seed each test is
// deterministic; a correct sampler would exceed these for only 1 seed in 1000, while the
// mistakes they guard against (temperature ignored or applied twice, a token dropped, an
// off-by-one in the cumulative walk) give statistics in the hundreds or thousands, as the
// power checks below show for the first.
constexpr double kChiSquare999Df2 = 13.816;
constexpr double kChiSquare999Df7 = 24.322;

TEST(Sampler, GreedyIsTheArgmax) {
  std::mt19937 generator(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int round = 0; round < 20; ++round) {
    std::vector<float> logits(1000);
    for (float& logit : logits) logit = normal(generator);
    Sampler sampler(plain(0.0f));
    const auto expected = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(sampler.sample(logits), expected);
  }
}

TEST(Sampler, GreedyBreaksTiesTowardTheLowestIdAndIgnoresTruncation) {
  SamplingParams params = plain(0.0f);
  params.top_k = 1;
  params.top_p = 0.1f;
  params.min_p = 0.9f;
  Sampler sampler(params);
  EXPECT_EQ(sampler.sample(std::vector<float>{1.0f, 5.0f, 5.0f, 2.0f}), 1);
  EXPECT_EQ(sampler.sample(std::vector<float>{-kInf, 0.0f, 0.0f}), 1);
}

TEST(Sampler, GreedySeesPenaltiesAndBias) {
  const std::vector<float> logits = {3.0f, 2.9f, 0.0f};
  SamplingParams params = plain(0.0f);
  params.repeat_penalty = 1.1f;  // 3.0 / 1.1 = 2.73 < 2.9
  params.repeat_last_n = 1;
  Sampler sampler(params);
  EXPECT_EQ(sampler.sample(logits), 0);
  sampler.accept(0);
  EXPECT_EQ(sampler.sample(logits), 1);
  sampler.accept(2);  // the window holds one token: 0 is no longer penalized
  EXPECT_EQ(sampler.sample(logits), 0);

  SamplingParams banned = plain(0.0f);
  banned.logit_bias = {{0, -kInf}};
  EXPECT_EQ(Sampler(banned).sample(logits), 1);
  SamplingParams boosted = plain(0.0f);
  boosted.logit_bias = {{2, 5.0f}};
  EXPECT_EQ(Sampler(boosted).sample(logits), 2);
}

TEST(Sampler, PenaltiesFollowTheWindow) {
  const std::vector<float> logits = {1.0f, 0.9f, -5.0f, -5.0f, -5.0f, -5.0f};
  SamplingParams params = plain(0.0f);
  params.presence_penalty = 0.5f;
  params.repeat_last_n = 0;  // no window: penalties have nothing to act on
  Sampler off(params);
  off.accept(0);
  EXPECT_EQ(off.sample(logits), 0);

  params.repeat_last_n = -1;
  params.presence_penalty = 0.0f;
  params.frequency_penalty = 0.04f;  // three occurrences: 1.0 - 0.12 < 0.9
  Sampler whole_context(params);
  for (int i = 0; i < 2; ++i) whole_context.accept(0);
  for (int i = 0; i < 1000; ++i) whole_context.accept(5);  // unrelated tokens do not evict
  EXPECT_EQ(whole_context.sample(logits), 0);              // 1.0 - 0.08 > 0.9
  whole_context.accept(0);
  EXPECT_EQ(whole_context.sample(logits), 1);
  whole_context.reset();
  EXPECT_EQ(whole_context.sample(logits), 0);
}

std::vector<int32_t> run(Sampler& sampler, const std::vector<float>& logits, int steps) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < steps; ++i) {
    tokens.push_back(sampler.sample(logits));
    sampler.accept(tokens.back());
  }
  return tokens;
}

std::vector<float> flat_logits() {
  std::vector<float> logits(50);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = 0.01f * static_cast<float>(i % 7);
  return logits;
}

TEST(Sampler, SameSeedGivesTheSameSequenceAndOtherSeedsDiffer) {
  SamplingParams params = plain(1.0f, 42);
  params.repeat_penalty = 1.2f;
  params.top_k = 30;
  Sampler a(params), b(params);
  const std::vector<int32_t> first = run(a, flat_logits(), 300);
  EXPECT_EQ(run(b, flat_logits(), 300), first);
  params.seed = 43;
  Sampler c(params);
  EXPECT_NE(run(c, flat_logits(), 300), first);
  a.reset();
  EXPECT_EQ(run(a, flat_logits(), 300), first);
}

TEST(Sampler, SamplersShareNoState) {
  Sampler alone(plain(1.0f, 9));
  const std::vector<int32_t> expected = run(alone, flat_logits(), 100);
  Sampler x(plain(1.0f, 9)), y(plain(1.0f, 9));
  std::vector<int32_t> from_x, from_y;
  for (int i = 0; i < 100; ++i) {
    from_x.push_back(x.sample(flat_logits()));
    x.accept(from_x.back());
    from_y.push_back(y.sample(flat_logits()));
    y.accept(from_y.back());
  }
  EXPECT_EQ(from_x, expected);
  EXPECT_EQ(from_y, expected);
}

TEST(Sampler, TemperatureSamplingMatchesTheSoftmaxFrequencies) {
  const std::vector<float> logits = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.3f, 1.5f};
  const double temperature = 0.7;
  const int draws = 100000;
  Sampler sampler(plain(static_cast<float>(temperature), 2024));
  const std::vector<int> counts = histogram(sampler, logits, draws);
  const double statistic = chi_square(counts, softmax(logits, temperature), draws);
  EXPECT_LT(statistic, kChiSquare999Df7);
  // Power: the same counts are wildly incompatible with the untempered distribution.
  EXPECT_GT(chi_square(counts, softmax(logits, 1.0), draws), 100 * kChiSquare999Df7);
}

// Seven tokens, best first by id: 1 (0.4), 3 (0.25), 4 (0.15), 2 (0.1), 5 (0.05), 0 (0.03),
// 6 (0.02).
const std::vector<double> kSevenTokens = {0.03, 0.4, 0.1, 0.25, 0.15, 0.05, 0.02};

TEST(Sampler, TruncatedSamplingMatchesTheRenormalizedFrequencies) {
  // top_p 0.75: cumulative 0.4, 0.65, 0.8 -> tokens 1, 3, 4, renormalized by 0.8.
  SamplingParams params = plain(1.0f, 77);
  params.top_p = 0.75f;
  Sampler sampler(params);
  const int draws = 50000;
  const std::vector<int> counts = histogram(sampler, logits_of(kSevenTokens), draws);
  const std::vector<double> expected = {0, 0.4 / 0.8, 0, 0.25 / 0.8, 0.15 / 0.8, 0, 0};
  EXPECT_EQ(support(counts), (std::set<int32_t>{1, 3, 4}));
  EXPECT_LT(chi_square(counts, expected, draws), kChiSquare999Df2);
}

struct SupportCase {
  std::string name;
  std::function<void(SamplingParams&)> configure;
  std::set<int32_t> expected;
};

TEST(Sampler, TruncationKeepsExactlyTheRightCandidates) {
  const std::vector<SupportCase> cases = {
      {"top_k 3", [](SamplingParams& p) { p.top_k = 3; }, {1, 3, 4}},
      {"top_k 1", [](SamplingParams& p) { p.top_k = 1; }, {1}},
      {"top_p 0.6", [](SamplingParams& p) { p.top_p = 0.6f; }, {1, 3}},
      {"top_p 0.85", [](SamplingParams& p) { p.top_p = 0.85f; }, {1, 3, 4, 2}},
      // min_p 0.2: p >= 0.08.
      {"min_p 0.2", [](SamplingParams& p) { p.min_p = 0.2f; }, {1, 3, 4, 2}},
      // min_p 0.45: p >= 0.18 at temperature 1 ...
      {"min_p 0.45", [](SamplingParams& p) { p.min_p = 0.45f; }, {1, 3}},
      // ... but temperature 2 comes first and flattens: p_i / p_max becomes sqrt(p_i / 0.4),
      // 0.79, 0.61, 0.5, 0.35, 0.27 -> four tokens pass.
      {"temperature 2, min_p 0.45",
       [](SamplingParams& p) {
         p.temperature = 2.0f;
         p.min_p = 0.45f;
       },
       {1, 3, 4, 2}},
      // Steps compose: top_k 5 leaves mass 0.95 -> top_p 0.8 of that (0.76) -> 1, 3, 4.
      {"top_k 5, top_p 0.8",
       [](SamplingParams& p) {
         p.top_k = 5;
         p.top_p = 0.8f;
       },
       {1, 3, 4}},
      // top-p sees the whole distribution before min-p: 0.7 of it -> 1, 3, 4; min-p 0.2 then
      // removes nothing. (In the other order min-p would leave mass 0.9 and top-p only 1, 3.)
      {"top_p 0.7, min_p 0.2",
       [](SamplingParams& p) {
         p.top_p = 0.7f;
         p.min_p = 0.2f;
       },
       {1, 3, 4}},
      {"bias bans the best",
       [](SamplingParams& p) {
         p.top_k = 2;
         p.logit_bias = {{1, -kInf}};
       },
       {3, 4}},
  };
  for (const SupportCase& c : cases) {
    SamplingParams params = plain(1.0f, 5);
    c.configure(params);
    Sampler sampler(params);
    EXPECT_EQ(support(histogram(sampler, logits_of(kSevenTokens), 20000)), c.expected) << c.name;
  }
}

TEST(Sampler, NeverDrawsAMaskedToken) {
  Sampler sampler(plain(5.0f, 3));
  const std::vector<float> logits = {-kInf, 0.0f, -kInf, 0.0f};
  EXPECT_EQ(support(histogram(sampler, logits, 2000)), (std::set<int32_t>{1, 3}));
}

TEST(Sampler, HandlesALargeVocabulary) {
  std::vector<float> logits(152064, -5.0f);
  logits[151000] = 30.0f;  // all but certain at temperature 1
  SamplingParams params = plain(1.0f);
  for (int32_t top_k : {0, 40}) {
    params.top_k = top_k;
    params.top_p = top_k == 0 ? 0.9f : 1.0f;
    Sampler sampler(params);
    EXPECT_EQ(sampler.sample(logits), 151000);
  }
}

void expect_invalid(const std::function<void(SamplingParams&)>& change, const std::string& field) {
  SamplingParams params;
  change(params);
  EXPECT_THAT([&] { validate(params); },
              testing::ThrowsMessage<Error>(testing::HasSubstr(field)));
  EXPECT_THROW(Sampler{params}, Error) << field;
}

TEST(Sampler, RejectsInvalidParameters) {
  const float nan = std::nanf("");
  expect_invalid([](SamplingParams& p) { p.temperature = -0.1f; }, "temperature");
  expect_invalid([&](SamplingParams& p) { p.temperature = nan; }, "temperature");
  expect_invalid([](SamplingParams& p) { p.top_k = -1; }, "top_k");
  expect_invalid([](SamplingParams& p) { p.top_p = 0.0f; }, "top_p");
  expect_invalid([](SamplingParams& p) { p.top_p = 1.01f; }, "top_p");
  expect_invalid([&](SamplingParams& p) { p.top_p = nan; }, "top_p");
  expect_invalid([](SamplingParams& p) { p.min_p = -0.01f; }, "min_p");
  expect_invalid([](SamplingParams& p) { p.min_p = 1.5f; }, "min_p");
  expect_invalid([](SamplingParams& p) { p.repeat_penalty = 0.0f; }, "repeat_penalty");
  expect_invalid([](SamplingParams& p) { p.frequency_penalty = kInf; }, "frequency_penalty");
  expect_invalid([&](SamplingParams& p) { p.presence_penalty = nan; }, "presence_penalty");
  expect_invalid([](SamplingParams& p) { p.repeat_last_n = -2; }, "repeat_last_n");
  expect_invalid([](SamplingParams& p) { p.logit_bias = {{-1, 1.0f}}; }, "logit_bias");
  expect_invalid([&](SamplingParams& p) { p.logit_bias = {{0, nan}}; }, "logit_bias");

  SamplingParams edges;  // the inclusive ends of each range are valid
  edges.temperature = 0.0f;
  edges.top_p = 1.0f;
  edges.min_p = 1.0f;
  edges.repeat_last_n = -1;
  edges.logit_bias = {{0, -kInf}};
  EXPECT_NO_THROW(validate(edges));
}

TEST(Sampler, RejectsBadLogits) {
  for (float temperature : {0.0f, 1.0f}) {
    Sampler sampler(plain(temperature));
    EXPECT_THROW(sampler.sample({}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{0.0f, std::nanf("")}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{kInf, 0.0f}), Error);
    EXPECT_THROW(sampler.sample(std::vector<float>{-kInf, -kInf}), Error);
    EXPECT_THROW(sampler.accept(-3), Error);
  }
  SamplingParams params = plain(1.0f);
  params.logit_bias = {{4, 1.0f}};
  EXPECT_THROW(Sampler(params).sample(std::vector<float>{0.0f, 1.0f}), Error);
  params = plain(1.0f);
  params.repeat_penalty = 1.1f;
  Sampler penalizes_large_id(params);
  penalizes_large_id.accept(10);  // fine until a vocabulary of 10 tokens is sampled
  EXPECT_NO_THROW(penalizes_large_id.sample(std::vector<float>(11, 0.0f)));
  EXPECT_THROW(penalizes_large_id.sample(std::vector<float>(10, 0.0f)), Error);
  Sampler without_penalties(plain(1.0f));  // neutral penalties never look at the window
  without_penalties.accept(10);
  EXPECT_NO_THROW(without_penalties.sample(std::vector<float>(10, 0.0f)));
}

}  // namespace
}  // namespace edgellm
