// The bench's steady-repetition figure (bench/model_bench.h): which decode repetitions count as
// measured against a known bound, and their fraction of it.
#include "bench/model_bench.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace edgellm::bench {
namespace {

// Each repetition's fraction of its best-pass bound (the mean of the best passes around it), as
// `edgellm bench` computes it.
std::vector<double> fractions_of(const std::vector<double>& tps, const std::vector<double>& best) {
  std::vector<double> f;
  for (size_t r = 0; r < tps.size(); ++r) f.push_back(tps[r] / (0.5 * (best[r] + best[r + 1])));
  return f;
}

TEST(SteadyFraction, KeepsRepetitionsWhoseProbesAgree) {
  // Tokens/s as GB/s drawn (1 GB a token). Repetition 0 sits between two steady probes of ~80
  // GB/s; repetitions 1 and 2 next to a probe whose passes flickered (best 85, mean 55);
  // repetition 3 between two probes steady in themselves, but the host changed in between
  // (84 -> 50).
  const std::vector<double> tps = {64.0, 40.0, 50.0, 45.0};
  const std::vector<double> best = {80.0, 82.0, 85.0, 84.0, 50.0};
  const std::vector<double> mean = {78.0, 79.0, 55.0, 82.0, 49.0};
  const std::vector<double> fractions = fractions_of(tps, best);
  const SteadyFraction s = steady_fraction(fractions, best, mean);
  ASSERT_EQ(s.repetitions, 1);
  EXPECT_DOUBLE_EQ(s.fraction, 64.0 / 81.0);
  // With a tolerance of 0.75 every repetition's readings (spans up to 84 / 49 = 1.71x) pass.
  const SteadyFraction loose = steady_fraction(fractions, best, mean, 0.75);
  ASSERT_EQ(loose.repetitions, 4);
  EXPECT_DOUBLE_EQ(loose.fraction, (64.0 / 81.0 + 40.0 / 83.5 + 50.0 / 84.5 + 45.0 / 67.0) / 4.0);
}

TEST(SteadyFraction, NoneSteadyAndBadInput) {
  const SteadyFraction none = steady_fraction({30.0 / 72.5}, {85.0, 60.0}, {55.0, 50.0});
  EXPECT_EQ(none.repetitions, 0);
  EXPECT_EQ(none.fraction, 0.0);
  EXPECT_THROW(steady_fraction({0.4}, {85.0}, {55.0, 50.0}), Error);
  EXPECT_THROW(steady_fraction({0.4}, {85.0, 84.0}, {80.0, 80.0}, -0.1), Error);
  // A probe that read nothing is not a bound.
  EXPECT_EQ(steady_fraction({0.4}, {0.0, 0.0}, {0.0, 0.0}).repetitions, 0);
}

}  // namespace
}  // namespace edgellm::bench
