// RoPE conventions and scaling against direct formulas.
#include "kernels/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "core/error.h"

namespace edgellm::kernels {
namespace {

std::vector<float> rotate(const RopeParams& p, std::vector<float> x, int64_t n_heads, int64_t head_dim, int64_t pos) {
  const Rope rope(p);
  std::vector<float> cos(static_cast<size_t>(rope.n_pairs())), sin(cos.size());
  rope.angles(pos, 1, cos.data(), sin.data());
  rope.apply(x.data(), n_heads, head_dim, cos.data(), sin.data());
  return x;
}

TEST(Rope, NormalRotatesAdjacentPairsWithTheStandardFrequencies) {
  RopeParams p;
  p.n_dims = 8;
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  const auto y = rotate(p, x, 1, 8, 5);
  for (int i = 0; i < 4; ++i) {
    const double theta = 5 * std::pow(10000.0, -2.0 * i / 8);
    EXPECT_NEAR(y[2 * i], x[2 * i] * std::cos(theta) - x[2 * i + 1] * std::sin(theta), 1e-5);
    EXPECT_NEAR(y[2 * i + 1], x[2 * i] * std::sin(theta) + x[2 * i + 1] * std::cos(theta), 1e-5);
  }
}

TEST(Rope, NeoxEqualsNormalOnPermutedHeads) {
  // llama.cpp's converter permutes HF Q/K rows so that adjacent pairs (normal) equal HF's
  // half-split pairs (NeoX): normal(P·x) == P·neox(x) with P interleaving the two halves.
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t heads = 3, hd = 16;
  std::vector<float> x(static_cast<size_t>(heads * hd));
  for (float& v : x) v = normal(rng);
  std::vector<float> permuted(x.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < hd / 2; ++j)
      for (int64_t t = 0; t < 2; ++t)
        permuted[static_cast<size_t>(h * hd + 2 * j + t)] = x[static_cast<size_t>(h * hd + t * hd / 2 + j)];
  RopeParams pn, px;
  pn.n_dims = px.n_dims = hd;
  px.style = RopeStyle::NeoX;
  const auto a = rotate(pn, permuted, heads, hd, 37);
  const auto b = rotate(px, x, heads, hd, 37);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t j = 0; j < hd / 2; ++j)
      for (int64_t t = 0; t < 2; ++t)
        EXPECT_NEAR(a[static_cast<size_t>(h * hd + 2 * j + t)], b[static_cast<size_t>(h * hd + t * hd / 2 + j)], 1e-6);
}

TEST(Rope, PartialRotationLeavesTheRestAlone) {
  RopeParams p;
  p.n_dims = 4;
  p.style = RopeStyle::NeoX;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  const auto y = rotate(p, x, 1, 6, 9);
  EXPECT_EQ(y[4], 5);
  EXPECT_EQ(y[5], 6);
  EXPECT_NE(y[0], 1);
}

TEST(Rope, LinearScalingDividesThePosition) {
  RopeParams scaled, plain;
  scaled.n_dims = plain.n_dims = 8;
  scaled.scaling = RopeScaling::Linear;
  scaled.scaling_factor = 4.0;
  std::vector<float> c1(4), s1(4), c2(4), s2(4);
  Rope(scaled).angles(20, 1, c1.data(), s1.data());
  Rope(plain).angles(5, 1, c2.data(), s2.data());
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(c1[i], c2[i], 1e-6);
    EXPECT_NEAR(s1[i], s2[i], 1e-6);
  }
}

TEST(Rope, FrequencyFactorsDivideEachPairsFrequency) {
  RopeParams p;
  p.n_dims = 8;
  p.freq_factors = {1.0f, 2.0f, 8.0f, 0.5f};
  std::vector<float> c(4), s(4);
  Rope(p).angles(11, 1, c.data(), s.data());
  for (int i = 0; i < 4; ++i) {
    const double theta = 11 * std::pow(10000.0, -2.0 * i / 8) / p.freq_factors[static_cast<size_t>(i)];
    EXPECT_NEAR(c[i], std::cos(theta), 1e-6);
    EXPECT_NEAR(s[i], std::sin(theta), 1e-6);
  }
}

TEST(Rope, YarnBlendsInterpolationAndExtrapolationAndScalesMagnitude) {
  RopeParams p;
  p.n_dims = 64;
  p.scaling = RopeScaling::Yarn;
  p.scaling_factor = 4.0;
  p.n_ctx_orig = 64;
  const int64_t pairs = 32;
  std::vector<float> c(pairs), s(pairs);
  Rope(p).angles(1, 1, c.data(), s.data());
  // Correction range from the YaRN paper: dims where the frequency completes beta_fast (32) or
  // beta_slow (1) turns over the original context.
  const auto corr = [](double rot) { return 64 * std::log(64 / (rot * 2 * std::numbers::pi)) / (2 * std::log(10000.0)); };
  const double low = std::max(0.0, std::floor(corr(32))), high = std::min(63.0, std::ceil(corr(1)));
  const double mscale = 1 + 0.1 * std::log(4.0);
  for (int i = 0; i < pairs; ++i) {
    const double base = std::pow(10000.0, -2.0 * i / 64);
    const double ramp = std::clamp((i - low) / std::max(0.001, high - low), 0.0, 1.0);
    const double theta = base / 4 * ramp + base * (1 - ramp);
    EXPECT_NEAR(std::hypot(c[i], s[i]), mscale, 1e-6);
    EXPECT_NEAR(c[i], std::cos(theta) * mscale, 1e-6) << i;
    EXPECT_NEAR(s[i], std::sin(theta) * mscale, 1e-6) << i;
  }
  // the fastest pair is pure extrapolation, the slowest pure interpolation
  EXPECT_NEAR(s[0], std::sin(1.0) * mscale, 1e-6);
  EXPECT_NEAR(s[pairs - 1], std::sin(std::pow(10000.0, -62.0 / 64) / 4) * mscale, 1e-6);
}

TEST(Rope, BadParametersAreErrors) {
  RopeParams p;
  p.n_dims = 7;
  EXPECT_THROW(Rope{p}, Error);
  p.n_dims = 8;
  p.freq_base = -1;
  EXPECT_THROW(Rope{p}, Error);
  p.freq_base = 10000;
  p.scaling = RopeScaling::Yarn;
  p.scaling_factor = 2;
  EXPECT_THROW(Rope{p}, Error);  // no original context
  p.scaling = RopeScaling::None;
  p.freq_factors = {1, 2};
  EXPECT_THROW(Rope{p}, Error);  // wrong count
}

}  // namespace
}  // namespace edgellm::kernels
