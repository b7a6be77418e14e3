#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "sampling/sampler.h"

namespace edgellm {
namespace {

// log_softmax in double, written the plain way (the logits here are small enough not to need
// max subtraction), as an independent reference.
std::vector<double> log_softmax(const std::vector<float>& logits) {
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit));
  std::vector<double> result;
  for (float logit : logits) result.push_back(static_cast<double>(logit) - std::log(sum));
  return result;
}

std::vector<float> random_logits(size_t n, unsigned seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> uniform(-10.0f, 10.0f);
  std::vector<float> logits(n);
  for (float& logit : logits) logit = uniform(generator);
  return logits;
}

TEST(TopLogprobs, EqualLogSoftmaxInDouble) {
  const std::vector<float> logits = random_logits(5000, 1);
  const std::vector<double> reference = log_softmax(logits);
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return reference[a] > reference[b]; });

  const int32_t chosen = 1234;
  const TokenLogprobs result = top_logprobs(logits, chosen, 5);
  EXPECT_EQ(result.chosen.token, chosen);
  EXPECT_NEAR(result.chosen.logprob, reference[chosen], 1e-5);
  ASSERT_EQ(result.top.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(result.top[i].token, order[i]) << "rank " << i;
    EXPECT_NEAR(result.top[i].logprob, reference[order[i]], 1e-5) << "rank " << i;
  }
}

TEST(TopLogprobs, WholeVocabularySumsToOne) {
  const std::vector<float> logits = random_logits(300, 2);
  const TokenLogprobs result = top_logprobs(logits, 0, 1000);  // n beyond the vocabulary
  ASSERT_EQ(result.top.size(), logits.size());
  double total = 0.0;
  for (const TokenLogprob& entry : result.top) total += std::exp(double{entry.logprob});
  EXPECT_NEAR(total, 1.0, 1e-5);
  for (size_t i = 1; i < result.top.size(); ++i)
    EXPECT_GE(result.top[i - 1].logprob, result.top[i].logprob);
}

TEST(TopLogprobs, TiesGoToTheLowerIdAndZeroAsksForNone) {
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f, 2.0f};
  const TokenLogprobs result = top_logprobs(logits, 2, 3);
  ASSERT_EQ(result.top.size(), 3u);
  EXPECT_EQ(result.top[0].token, 1);
  EXPECT_EQ(result.top[1].token, 3);
  EXPECT_EQ(result.top[2].token, 2);
  EXPECT_TRUE(top_logprobs(logits, 2, 0).top.empty());
}

TEST(TopLogprobs, LargeLogitsDoNotOverflow) {
  const std::vector<float> logits = {1000.0f, 1000.0f + std::log(3.0f)};
  const TokenLogprobs result = top_logprobs(logits, 0, 2);
  EXPECT_NEAR(result.chosen.logprob, std::log(0.25), 1e-4);
  EXPECT_NEAR(result.top[0].logprob, std::log(0.75), 1e-4);
}

TEST(TopLogprobs, MaskedTokensHaveMinusInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  const TokenLogprobs result = top_logprobs(std::vector<float>{-inf, 0.0f}, 0, 2);
  EXPECT_EQ(result.chosen.logprob, -inf);
  EXPECT_EQ(result.top[0].token, 1);
  EXPECT_FLOAT_EQ(result.top[0].logprob, 0.0f);
}

TEST(TopLogprobs, RejectsBadInput) {
  const std::vector<float> logits = {0.0f, 1.0f};
  EXPECT_THROW(top_logprobs({}, 0, 1), Error);
  EXPECT_THROW(top_logprobs(logits, 2, 1), Error);
  EXPECT_THROW(top_logprobs(logits, -1, 1), Error);
  EXPECT_THROW(top_logprobs(logits, 0, -1), Error);
  EXPECT_THROW(top_logprobs(std::vector<float>{std::nanf(""), 0.0f}, 1, 1), Error);
}

}  // namespace
}  // namespace edgellm
