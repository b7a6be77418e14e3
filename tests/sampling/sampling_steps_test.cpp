// Direct tests of each step of the sampling chain on hand-made inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "sampling/sampling_steps.h"

namespace edgellm::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<int32_t> ids_of(const CandidateList& candidates) {
  std::vector<int32_t> ids;
  for (const Candidate& c : candidates.items) ids.push_back(c.id);
  return ids;
}

CandidateList candidates_from(const std::vector<float>& logits) {
  CandidateList candidates;
  fill_candidates(candidates, logits);
  return candidates;
}

// Logits whose softmax is exactly `probabilities` (up to rounding).
std::vector<float> logits_of(const std::vector<double>& probabilities) {
  std::vector<float> logits;
  for (double p : probabilities) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

TEST(CheckLogits, RejectsEmptyNanAndPlusInfinityButAllowsMinusInfinity) {
  EXPECT_THROW(check_logits({}), Error);
  EXPECT_THROW(check_logits(std::vector<float>{0.0f, std::nanf("")}), Error);
  EXPECT_THROW(check_logits(std::vector<float>{kInf, 0.0f}), Error);
  EXPECT_NO_THROW(check_logits(std::vector<float>{-kInf, 1.0f}));
}

TEST(Penalties, ChangeLogitsExactlyAsTheFormulasSay) {
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 0.0f, 3.0f};
  PenaltyWindow window(-1);
  for (int32_t token : {0, 1, 0, 3}) window.push(token);  // counts: 0 -> 2, 1 -> 1, 3 -> 1
  const float repeat = 1.5f, frequency = 0.25f, presence = 0.5f;
  apply_penalties(logits, window, repeat, frequency, presence);
  EXPECT_FLOAT_EQ(logits[0], 2.0f / repeat - (2 * frequency + presence));  // positive: divided
  EXPECT_FLOAT_EQ(logits[1], -1.0f * repeat - (1 * frequency + presence));  // negative: multiplied
  EXPECT_FLOAT_EQ(logits[2], 0.5f);                                         // not in the window
  EXPECT_FLOAT_EQ(logits[3], 0.0f * repeat - (1 * frequency + presence));
  EXPECT_FLOAT_EQ(logits[4], 3.0f);
}

TEST(Penalties, NeutralValuesLeaveLogitsUnchanged) {
  std::vector<float> logits = {2.0f, -1.0f, 0.5f};
  PenaltyWindow window(-1);
  for (int32_t token : {0, 1, 2, 2}) window.push(token);
  apply_penalties(logits, window, 1.0f, 0.0f, 0.0f);
  EXPECT_EQ(logits, (std::vector<float>{2.0f, -1.0f, 0.5f}));
}

TEST(Penalties, MaskedTokenStaysMasked) {
  std::vector<float> logits = {-kInf, 1.0f};
  PenaltyWindow window(-1);
  window.push(0);
  apply_penalties(logits, window, 1.3f, -0.5f, -0.5f);  // negative penalties raise logits
  EXPECT_EQ(logits[0], -kInf);
}

TEST(Penalties, TokenOutsideTheVocabularyThrows) {
  std::vector<float> logits = {0.0f, 1.0f};
  PenaltyWindow window(-1);
  window.push(2);
  EXPECT_THROW(apply_penalties(logits, window, 1.1f, 0.0f, 0.0f), Error);
}

TEST(PenaltyWindow, KeepsOnlyTheLastCapacityTokens) {
  PenaltyWindow window(3);
  for (int32_t token : {5, 6, 7, 5}) window.push(token);  // the first 5 falls out
  EXPECT_EQ(window.count(5), 1);
  EXPECT_EQ(window.count(6), 1);
  EXPECT_EQ(window.count(7), 1);
  window.push(8);  // 6 falls out and disappears from the counts
  EXPECT_EQ(window.count(6), 0);
  EXPECT_EQ(window.counts().size(), 3u);
  window.clear();
  EXPECT_TRUE(window.counts().empty());
}

TEST(PenaltyWindow, ZeroRemembersNothingAndMinusOneRemembersEverything) {
  PenaltyWindow none(0);
  PenaltyWindow all(-1);
  for (int i = 0; i < 1000; ++i) {
    none.push(4);
    all.push(4);
  }
  EXPECT_EQ(none.count(4), 0);
  EXPECT_EQ(all.count(4), 1000);
  EXPECT_THROW(all.push(-1), Error);
  EXPECT_THROW(PenaltyWindow(-2), Error);
}

TEST(LogitBias, AddsToTheNamedTokensOnly) {
  std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  apply_logit_bias(logits, {{0, 0.5f}, {2, -kInf}});
  EXPECT_EQ(logits, (std::vector<float>{1.5f, 2.0f, -kInf}));
  EXPECT_THROW(apply_logit_bias(logits, {{3, 1.0f}}), Error);
}

TEST(Argmax, ReturnsTheLowestIdAmongEqualMaxima) {
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 4.0f, -2.0f, 4.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-kInf, -kInf, -3.0f}), 2);
  EXPECT_THROW(argmax(std::vector<float>{-kInf, -kInf}), Error);
}

TEST(FillCandidates, SkipsMaskedTokensAndKeepsIdOrder) {
  const CandidateList candidates = candidates_from({0.5f, -kInf, 2.0f, -1.0f});
  EXPECT_EQ(ids_of(candidates), (std::vector<int32_t>{0, 2, 3}));
  EXPECT_FALSE(candidates.sorted);
  EXPECT_THROW(candidates_from({-kInf}), Error);
}

TEST(TopK, KeepsTheKLargestBestFirstWithTiesToLowerIds) {
  const std::vector<float> logits = {0.1f, 3.0f, 2.0f, 3.0f, -1.0f, 5.0f};
  CandidateList three = candidates_from(logits);
  keep_top_k(three, 3);
  EXPECT_EQ(ids_of(three), (std::vector<int32_t>{5, 1, 3}));
  EXPECT_TRUE(three.sorted);
  CandidateList two = candidates_from(logits);
  keep_top_k(two, 2);
  EXPECT_EQ(ids_of(two), (std::vector<int32_t>{5, 1}));  // 1 and 3 tie: the lower id wins
}

TEST(TopK, ZeroOrAtLeastTheSizeIsANoOp) {
  const std::vector<float> logits = {0.1f, 3.0f, 2.0f};
  for (int32_t k : {0, 3, 100}) {
    CandidateList candidates = candidates_from(logits);
    keep_top_k(candidates, k);
    EXPECT_EQ(ids_of(candidates), (std::vector<int32_t>{0, 1, 2})) << "k = " << k;
  }
}

TEST(TopK, MatchesAFullSortOnALargeVocabulary) {
  std::mt19937 generator(5);
  std::uniform_int_distribution<int> coarse(-200, 200);  // coarse values: many ties
  std::vector<float> logits(150000);
  for (float& logit : logits) logit = static_cast<float>(coarse(generator)) * 0.05f;
  std::vector<int32_t> expected(logits.size());
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int32_t>(i);
  std::stable_sort(expected.begin(), expected.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  expected.resize(40);
  CandidateList candidates = candidates_from(logits);
  keep_top_k(candidates, 40);
  EXPECT_EQ(ids_of(candidates), expected);
}

TEST(Temperature, DividesTheDistanceToTheMaximum) {
  CandidateList candidates = candidates_from({1.0f, 3.0f, -1.0f});
  apply_temperature(candidates, 0.5f);
  ASSERT_EQ(candidates.items.size(), 3u);
  EXPECT_FLOAT_EQ(candidates.items[0].logit, -4.0f);
  EXPECT_FLOAT_EQ(candidates.items[1].logit, 0.0f);
  EXPECT_FLOAT_EQ(candidates.items[2].logit, -8.0f);
}

TEST(Temperature, TinyTemperatureDoesNotOverflow) {
  CandidateList candidates = candidates_from({1e30f, -1e30f});
  apply_temperature(candidates, 1e-30f);
  EXPECT_EQ(candidates.items[0].logit, 0.0f);
  EXPECT_FALSE(std::isnan(candidates.items[1].logit));
  EXPECT_EQ(draw(candidates, 0.999), 0);
}

// Probabilities 0.05 / 0.5 / 0.15 / 0.3 on ids 0..3: best-first order is 1, 3, 2, 0 with
// cumulative mass 0.5, 0.8, 0.95, 1.0.
const std::vector<double> kFourTokens = {0.05, 0.5, 0.15, 0.3};

TEST(TopP, KeepsTheShortestPrefixReachingTheMass) {
  const struct {
    float top_p;
    std::vector<int32_t> kept;
  } cases[] = {{0.3f, {1}}, {0.6f, {1, 3}}, {0.79f, {1, 3}}, {0.81f, {1, 3, 2}},
               {0.96f, {1, 3, 2, 0}}};
  for (const auto& c : cases) {
    CandidateList candidates = candidates_from(logits_of(kFourTokens));
    keep_top_p(candidates, c.top_p);
    EXPECT_EQ(ids_of(candidates), c.kept) << "top_p = " << c.top_p;
    EXPECT_TRUE(candidates.sorted);
  }
}

// Reference: full sort by (logit desc, id asc), then the shortest prefix reaching the mass, in
// double throughout.
std::vector<int32_t> nucleus_by_full_sort(const std::vector<float>& logits, double top_p) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  const double max = logits[order[0]];
  double total = 0.0;
  for (float logit : logits) total += std::exp(logit - max);
  double cumulative = 0.0;
  size_t kept = 0;
  while (kept < order.size() && cumulative < top_p * total)
    cumulative += std::exp(logits[order[kept++]] - max);
  order.resize(kept);
  return order;
}

TEST(TopP, MatchesAFullSortOnALargeVocabulary) {
  std::mt19937 generator(8);
  // Spread 0.1: nearly flat, the nucleus is most of the vocabulary (the head grows to the end).
  // Spread 4: peaked, the nucleus fits in the first head. Coarse values give many ties.
  for (float spread : {0.1f, 1.0f, 4.0f}) {
    std::normal_distribution<float> normal(0.0f, spread);
    std::vector<float> logits(150000);
    for (float& logit : logits) logit = std::round(normal(generator) * 100.0f) / 100.0f;
    for (float top_p : {0.1f, 0.5f, 0.9f}) {
      CandidateList candidates = candidates_from(logits);
      keep_top_p(candidates, top_p);
      EXPECT_EQ(ids_of(candidates), nucleus_by_full_sort(logits, top_p))
          << "spread " << spread << ", top_p " << top_p;
    }
  }
}

TEST(TopP, OneIsANoOpAndDoesNotSort) {
  CandidateList candidates = candidates_from(logits_of(kFourTokens));
  keep_top_p(candidates, 1.0f);
  EXPECT_EQ(ids_of(candidates), (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_FALSE(candidates.sorted);
}

TEST(MinP, KeepsTokensWithAtLeastMinPTimesTheBestProbability) {
  const struct {
    float min_p;
    std::vector<int32_t> kept;  // unsorted input: id order is kept
  } cases[] = {{0.0f, {0, 1, 2, 3}},
               {0.05f, {0, 1, 2, 3}},  // p >= 0.025
               {0.2f, {1, 2, 3}},      // p >= 0.1
               {0.5f, {1, 3}},         // p >= 0.25
               {0.9f, {1}},            // p >= 0.45
               {1.0f, {1}}};
  for (const auto& c : cases) {
    CandidateList candidates = candidates_from(logits_of(kFourTokens));
    keep_min_p(candidates, c.min_p);
    EXPECT_EQ(ids_of(candidates), c.kept) << "min_p = " << c.min_p;
  }
}

TEST(MinP, OneKeepsEveryTokenTiedForTheMaximum) {
  CandidateList candidates = candidates_from({2.0f, 1.0f, 2.0f});
  keep_min_p(candidates, 1.0f);
  EXPECT_EQ(ids_of(candidates), (std::vector<int32_t>{0, 2}));
}

TEST(Draw, WalksTheCumulativeDistributionInListOrder) {
  // Weights 1 : 2 : 1, so the boundaries are at 0.25 and 0.75.
  const CandidateList candidates = candidates_from(logits_of({0.25, 0.5, 0.25}));
  EXPECT_EQ(draw(candidates, 0.0), 0);
  EXPECT_EQ(draw(candidates, 0.24), 0);
  EXPECT_EQ(draw(candidates, 0.26), 1);
  EXPECT_EQ(draw(candidates, 0.74), 1);
  EXPECT_EQ(draw(candidates, 0.76), 2);
  EXPECT_EQ(draw(candidates, std::nextafter(1.0, 0.0)), 2);
}

TEST(Draw, NeverReturnsATokenWithZeroWeight) {
  CandidateList candidates;
  candidates.items = {{7, 0.0f}, {9, -kInf}};
  EXPECT_EQ(draw(candidates, std::nextafter(1.0, 0.0)), 7);
  candidates.items.clear();
  EXPECT_THROW(draw(candidates, 0.5), Error);
}

}  // namespace
}  // namespace edgellm::sampling
