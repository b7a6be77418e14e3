// The bench's steady-repetition figure (bench/model_bench.h): which decode repetitions count as
// measured against a known bound, and their fraction of it.
#include "bench/model_bench.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace edgellm::bench {
namespace {

TEST(SteadyFraction, KeepsRepetitionsWhoseProbesAgree) {
  // 1e9 bytes a token: t/s = GB/s drawn. Repetition 0 sits between two steady probes of ~80
  // GB/s; repetitions 1 and 2 next to a probe whose passes flickered (best 85, mean 55);
  // repetition 3 between two probes steady in themselves, but the host changed in between
  // (84 -> 50).
  const std::vector<double> tps = {64.0, 40.0, 50.0, 45.0};
  const std::vector<double> best = {80.0, 82.0, 85.0, 84.0, 50.0};
  const std::vector<double> mean = {78.0, 79.0, 55.0, 82.0, 49.0};
  const SteadyFraction s = steady_fraction(tps, best, mean, 1e9);
  ASSERT_EQ(s.repetitions, 1);
  EXPECT_DOUBLE_EQ(s.fraction, 64.0 / 81.0);
  // With a tolerance of 0.75 every repetition's readings (spans up to 84 / 49 = 1.71x) pass.
  const SteadyFraction loose = steady_fraction(tps, best, mean, 1e9, 0.75);
  ASSERT_EQ(loose.repetitions, 4);
  EXPECT_DOUBLE_EQ(loose.fraction, (64.0 / 81.0 + 40.0 / 83.5 + 50.0 / 84.5 + 45.0 / 67.0) / 4.0);
}

TEST(SteadyFraction, NoneSteadyAndBadInput) {
  const SteadyFraction none = steady_fraction({30.0}, {85.0, 60.0}, {55.0, 50.0}, 1e9);
  EXPECT_EQ(none.repetitions, 0);
  EXPECT_EQ(none.fraction, 0.0);
  EXPECT_THROW(steady_fraction({30.0}, {85.0}, {55.0, 50.0}, 1e9), Error);
  EXPECT_THROW(steady_fraction({30.0}, {85.0, 84.0}, {80.0, 80.0}, 0.0), Error);
  // A probe that read nothing is not a bound.
  EXPECT_EQ(steady_fraction({30.0}, {0.0, 0.0}, {0.0, 0.0}, 1e9).repetitions, 0);
}

}  // namespace
}  // namespace edgellm::bench
