// The vectorized SwiGLU of every level against the std::exp reference: within a few ulp over
// the whole useful range, the same special-value behaviour, and each element's result
// independent of its position in the call (batched and single-token forward passes agree).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "kernels/simd/kernels.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

std::vector<float> gates() {
  std::vector<float> g;
  for (float v = -90.0f; v <= 90.0f; v += 0.0137f) g.push_back(v);
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int i = 0; i < 5000; ++i) g.push_back(normal(rng));
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, 5.0f, -5.0f, 16.5f, -16.5f, 87.9f, -86.9f})
    g.push_back(v);
  return g;
}

TEST(SimdSwiglu, MatchesReferenceWithinAFewUlp) {
  const std::vector<float> g = gates();
  std::vector<float> u(g.size());
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
  for (float& v : u) v = unit(rng);
  std::vector<float> ref = g;
  swiglu_reference(ref.data(), u.data(), static_cast<int64_t>(ref.size()));
  for (const KernelSet* ks : usable_sets()) {
    std::vector<float> out = g;
    ks->swiglu(out.data(), u.data(), static_cast<int64_t>(out.size()));
    for (size_t i = 0; i < g.size(); ++i) {
      // 4 ulp of the result. Below a gate of -87, e^-g leaves float range: the reference
      // divides by infinity (-0) where the kernel divides by e^88 (|result| < 1e-35).
      const float tol = 4.0f * std::numeric_limits<float>::epsilon() * std::abs(ref[i]) + 1e-35f;
      ASSERT_NEAR(out[i], ref[i], tol) << isa_name(ks->isa) << " gate " << g[i] << " up " << u[i];
    }
  }
}

TEST(SimdSwiglu, SpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const KernelSet* ks : usable_sets()) {
    std::vector<float> g = {nan, inf, -200.0f, 200.0f, 0.0f}, u = {1.0f, 2.0f, 1.0f, 0.5f, 3.0f};
    ks->swiglu(g.data(), u.data(), 5);
    EXPECT_TRUE(std::isnan(g[0])) << isa_name(ks->isa);
    EXPECT_EQ(g[1], inf) << isa_name(ks->isa);
    EXPECT_NEAR(g[2], 0.0f, 1e-30f) << isa_name(ks->isa);  // silu(-200) underflows to ~0
    EXPECT_EQ(g[3], 100.0f) << isa_name(ks->isa);
    EXPECT_EQ(g[4], 0.0f) << isa_name(ks->isa);
  }
}

TEST(SimdSwiglu, ResultDoesNotDependOnPosition) {
  std::vector<float> g = gates();
  g.resize(37);  // a tail on every lane width
  const std::vector<float> u(g.size(), 1.25f);
  for (const KernelSet* ks : usable_sets()) {
    std::vector<float> all = g;
    ks->swiglu(all.data(), u.data(), static_cast<int64_t>(all.size()));
    for (size_t i = 0; i < g.size(); ++i) {
      float one = g[i];
      ks->swiglu(&one, &u[i], 1);
      EXPECT_EQ(std::memcmp(&one, &all[i], sizeof one), 0) << isa_name(ks->isa) << " element " << i;
    }
  }
}

}  // namespace
}  // namespace edgellm::kernels::test
