// CPU feature detection for the SIMD kernel dispatch. Queried once (CPUID/XGETBV on x86-64,
// getauxval(AT_HWCAP) on aarch64) and cached in an immutable struct.
#pragma once

#include <string>

namespace edgellm::kernels {

struct CpuFeatures {
  // x86-64. The AVX flags are only set when the OS also saves the wide registers (XGETBV).
  bool sse42 = false;
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx_vnni = false;  // VEX-encoded 256-bit VNNI (AVX-VNNI), without AVX-512
  bool amd = false;     // vendor "AuthenticAMD"
  int x86_family = 0;   // CPUID display family (0x19: Zen 3/4, 0x1a: Zen 5), for stream_tuning.h
  // aarch64
  bool asimd = false;    // Advanced SIMD (always present on aarch64 Linux)
  bool dotprod = false;  // SDOT/UDOT (ARMv8.2 optional, v8.4 mandatory)
  bool i8mm = false;     // SMMLA/UMMLA/USDOT (ARMv8.6)
  bool fp16 = false;     // half-precision arithmetic
  // "AMD EPYC 9R14 ..." where the CPU reports a brand string.
  std::string brand;
};

// The features of the CPU this process runs on (detected on first call, then cached).
const CpuFeatures& cpu_features();

// One line listing the detected features, e.g. "x86-64: avx2 fma f16c avx512f ... (AMD EPYC)".
std::string describe_cpu_features(const CpuFeatures& f);

}  // namespace edgellm::kernels
