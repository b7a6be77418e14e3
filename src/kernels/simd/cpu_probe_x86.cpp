// x86-64 feature probe via CPUID and XGETBV. Compiled with baseline flags; xgetbv is issued as
// raw inline assembly so this file needs no -mxsave.
#include <cpuid.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "kernels/simd/cpu_probe.h"

namespace edgellm::kernels::detail {
namespace {

struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

bool bit(uint32_t value, int n) { return ((value >> n) & 1u) != 0; }

std::string brand_string() {
  if (cpuid(0x80000000u, 0).eax < 0x80000004u) return {};
  std::array<char, 49> text{};
  for (uint32_t i = 0; i < 3; ++i) {
    const Regs r = cpuid(0x80000002u + i, 0);
    std::memcpy(text.data() + 16 * i + 0, &r.eax, 4);
    std::memcpy(text.data() + 16 * i + 4, &r.ebx, 4);
    std::memcpy(text.data() + 16 * i + 8, &r.ecx, 4);
    std::memcpy(text.data() + 16 * i + 12, &r.edx, 4);
  }
  std::string s(text.data());
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first, last - first + 1);
}

}  // namespace

CpuFeatures probe_cpu() {
  CpuFeatures f;
  const Regs l0 = cpuid(0, 0);
  const uint32_t max_leaf = l0.eax;
  if (max_leaf < 1) return f;
  f.amd = l0.ebx == 0x68747541u && l0.edx == 0x69746e65u && l0.ecx == 0x444d4163u;  // "AuthenticAMD"
  const Regs l1 = cpuid(1, 0);
  const int base_family = static_cast<int>((l1.eax >> 8) & 0xfu);
  f.x86_family = base_family == 0xf ? base_family + static_cast<int>((l1.eax >> 20) & 0xffu) : base_family;
  f.sse42 = bit(l1.ecx, 20);
  const bool osxsave = bit(l1.ecx, 27);
  // The OS must save XMM+YMM state (XCR0 bits 1,2) for AVX, and opmask+ZMM (bits 5,6,7) too for
  // AVX-512; otherwise the instructions exist but are unusable.
  const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_ok = (xcr0 & 0x6u) == 0x6u;
  const bool zmm_ok = ymm_ok && (xcr0 & 0xe0u) == 0xe0u;
  f.avx = ymm_ok && bit(l1.ecx, 28);
  f.fma = f.avx && bit(l1.ecx, 12);
  f.f16c = f.avx && bit(l1.ecx, 29);
  if (max_leaf >= 7) {
    const Regs l7 = cpuid(7, 0);
    f.avx2 = f.avx && bit(l7.ebx, 5);
    f.avx512f = zmm_ok && bit(l7.ebx, 16);
    f.avx512dq = f.avx512f && bit(l7.ebx, 17);
    f.avx512bw = f.avx512f && bit(l7.ebx, 30);
    f.avx512vl = f.avx512f && bit(l7.ebx, 31);
    f.avx512vnni = f.avx512f && bit(l7.ecx, 11);
    if (l7.eax >= 1) {
      const Regs l71 = cpuid(7, 1);
      f.avx_vnni = f.avx2 && bit(l71.eax, 4);
      f.avx512bf16 = f.avx512f && bit(l71.eax, 5);
    }
  }
  f.brand = brand_string();
  return f;
}

}  // namespace edgellm::kernels::detail
