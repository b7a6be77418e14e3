// Feature detection and the one-time level choice, including the EDGELLM_ISA override (the
// ActiveHonoursEnvironment case also runs as separate ctest entries with EDGELLM_ISA set).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "kernels/simd/cpu_features.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/roofline.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

TEST(SimdDispatch, FeaturesAreConsistent) {
  const CpuFeatures& f = cpu_features();
  EXPECT_TRUE(!f.avx2 || f.avx);
  EXPECT_TRUE(!(f.avx512bw || f.avx512vl || f.avx512vnni || f.avx512bf16) || f.avx512f);
  EXPECT_TRUE(!f.i8mm || f.asimd);
  EXPECT_FALSE(describe_cpu_features(f).empty());
  std::printf("%s\n", describe().c_str());
}

TEST(SimdDispatch, PicksTheBestLevelTheCpuRuns) {
  const CpuFeatures& f = cpu_features();
  Isa want = Isa::Scalar;
  if (f.avx2 && f.fma && f.f16c) want = Isa::Avx2;
  if (want == Isa::Avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) want = Isa::Avx512;
  if (want == Isa::Avx512 && f.avx512vnni) want = Isa::Avx512Vnni;
  if (f.asimd) want = Isa::Neon;
  if (f.asimd && f.dotprod) want = Isa::NeonDotprod;
  if (f.asimd && f.dotprod && f.i8mm) want = Isa::NeonI8mm;
  EXPECT_EQ(isa_name(best_isa()), isa_name(want));
  EXPECT_EQ(detail::select_kernel_set(nullptr).isa, want);
  EXPECT_EQ(detail::select_kernel_set("auto").isa, want);
  // Every level up to the best is there; the scalar one always.
  ASSERT_NE(for_isa(Isa::Scalar), nullptr);
  EXPECT_NE(for_isa(want), nullptr);
}

TEST(SimdDispatch, OverrideForcesALowerLevel) {
  for (const KernelSet* ks : usable_sets()) {
    const std::string name(isa_name(ks->isa));
    EXPECT_EQ(&detail::select_kernel_set(name.c_str()), ks) << name;
  }
  EXPECT_THROW(detail::select_kernel_set("avx9000"), Error);
  for (int i = 0; i < kNumIsas; ++i) {
    const Isa isa = static_cast<Isa>(i);
    const std::string name(isa_name(isa));
    if (for_isa(isa) == nullptr) {
      EXPECT_THROW(detail::select_kernel_set(name.c_str()), Error) << name;
    }
    EXPECT_EQ(isa_from_name(name), isa);
  }
}

TEST(SimdDispatch, ActiveHonoursEnvironment) {
  const char* env = std::getenv("EDGELLM_ISA");
  if (env == nullptr || *env == '\0') {
    EXPECT_EQ(active().isa, best_isa());
  } else {
    EXPECT_EQ(isa_name(active().isa), std::string(env));
  }
  EXPECT_NE(describe().find(std::string("active: ") + std::string(isa_name(active().isa))),
            std::string::npos)
      << describe();
}

TEST(SimdDispatch, EveryLevelFillsEveryEntry) {
  for (const KernelSet* ks : usable_sets()) {
    for (const auto& f : ks->formats) {
      EXPECT_NE(f.matvec, nullptr);
      EXPECT_NE(f.matmul, nullptr);
    }
    EXPECT_NE(ks->quantize_q8_0, nullptr);
    EXPECT_NE(ks->quantize_q8_k, nullptr);
    EXPECT_GT(ks->int8_peak_probe(1000), 0u);
  }
}

TEST(SimdDispatch, RooflineArgumentsAreChecked) {
  EXPECT_THROW(measure_read_bandwidth(0), Error);
  EXPECT_THROW(measure_int8_peak(0), Error);
}

}  // namespace
}  // namespace edgellm::kernels::test
