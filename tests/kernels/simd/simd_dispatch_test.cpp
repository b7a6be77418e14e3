// Feature detection and the one-time level choice, including the EDGELLM_ISA override (the
// ActiveHonoursEnvironment case also runs as separate ctest entries with EDGELLM_ISA set).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/simd/cpu_features.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/roofline.h"
#include "kernels/simd/stream_tuning.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

TEST(SimdDispatch, FeaturesAreConsistent) {
  const CpuFeatures& f = cpu_features();
  EXPECT_TRUE(!f.avx2 || f.avx);
  EXPECT_TRUE(!f.avx_vnni || f.avx2);
  EXPECT_TRUE(!(f.avx512bw || f.avx512vl || f.avx512vnni || f.avx512bf16) || f.avx512f);
  EXPECT_TRUE(!f.i8mm || f.asimd);
  EXPECT_FALSE(describe_cpu_features(f).empty());
  std::printf("%s\n", describe().c_str());
}

TEST(SimdDispatch, PicksTheBestLevelTheCpuRuns) {
  const CpuFeatures& f = cpu_features();
  Isa want = Isa::Scalar;
  if (f.avx2 && f.fma && f.f16c) want = Isa::Avx2;
  if (want == Isa::Avx2 && f.avx_vnni) want = Isa::AvxVnni;
  if ((want == Isa::Avx2 || want == Isa::AvxVnni) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq) want = Isa::Avx512;
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
  std::vector<uint8_t> bytes(300);
  EXPECT_THROW(read_sum(bytes.data(), 300), Error);  // not whole 256-byte steps
}

// The read probe must read every byte it is given, whatever the level and prefetch distance:
// its sum of 64-bit words equals a plain one (fails when a load or a step is skipped).
TEST(SimdDispatch, ReadProbeSumsEveryWord) {
  constexpr size_t kBytes = 64 * 1024;
  std::vector<uint8_t> buffer(kBytes + 8192);  // the prefetches may run past the end
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < kBytes; i += 8) {
    const uint64_t word = rng();
    std::memcpy(buffer.data() + i, &word, 8);
  }
  for (size_t n : {size_t{256}, size_t{4096 + 256}, kBytes}) {
    uint64_t want = 0;
    for (size_t i = 0; i < n; i += 8) {
      uint64_t word;
      std::memcpy(&word, buffer.data() + i, 8);
      want += word;
    }
    for (const KernelSet* ks : usable_sets())
      for (size_t ahead : {size_t{0}, size_t{4096}})
        EXPECT_EQ(ks->read_probe(buffer.data(), n, ahead), want) << isa_name(ks->isa) << " " << n << " " << ahead;
  }
}

// The int8 probe counts what it ran: linear in the iterations, and on AVX-512 VNNI the zmm
// form (12 chains x 64 multiply-adds x 2 per iteration), whose throughput doubles the ymm one
// on Zen 5.
TEST(SimdDispatch, Int8ProbeCountsTheWidestForm) {
  for (const KernelSet* ks : usable_sets()) {
    EXPECT_EQ(ks->int8_peak_probe(2000), 2 * ks->int8_peak_probe(1000)) << isa_name(ks->isa);
    if (ks->isa == Isa::Avx512Vnni) {
      EXPECT_EQ(ks->int8_peak_probe(1), 12u * 64 * 2);
    }
  }
}

CpuFeatures amd_family(int family) {
  CpuFeatures f;
  f.amd = true;
  f.x86_family = family;
  return f;
}

TEST(StreamTuning, ChosenFromTheCpuOrByName) {
  EXPECT_EQ(select_stream_tuning(amd_family(0x1a), "").name, "zen5");
  EXPECT_EQ(select_stream_tuning(amd_family(0x19), "").name, "default");  // Zen 3 / Zen 4
  CpuFeatures intel;
  intel.x86_family = 6;
  EXPECT_EQ(select_stream_tuning(intel, "").name, "default");
  EXPECT_EQ(select_stream_tuning(CpuFeatures{}, "").name, "default");  // aarch64, unknown
  EXPECT_EQ(select_stream_tuning(amd_family(0x1a), "default").name, "default");
  EXPECT_EQ(select_stream_tuning(amd_family(0x19), "zen5").name, "zen5");
  EXPECT_THROW(select_stream_tuning(amd_family(0x1a), "zen9"), Error);
  ASSERT_GE(stream_tunings().size(), 2u);
  EXPECT_EQ(stream_tunings()[0].name, "default");
  const char* env = std::getenv("EDGELLM_STREAM_TUNING");
  const std::string_view want = env != nullptr && *env != '\0' ? std::string_view(env)
                                                                : select_stream_tuning(cpu_features(), "").name;
  EXPECT_EQ(stream_tuning().name, want);
  EXPECT_NE(describe().find("decode streaming: " + std::string(want)), std::string::npos) << describe();
}

}  // namespace
}  // namespace edgellm::kernels::test
