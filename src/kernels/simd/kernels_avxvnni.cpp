// The avxvnni level: AVX2 + FMA + F16C + AVX-VNNI (Intel Alder Lake and later client cores: the
// VEX-encoded 256-bit vpdpbusd / vpdpwssd without AVX-512). The avx2 level's kernels with the
// int8 dot products of the VNNI levels. Compiled with this level's -m flags
// (src/kernels/simd/sources.cmake); only called after dispatch checked the CPU.
#include "kernels/simd/x86_set-inl.h"

namespace edgellm::kernels::detail {
namespace {

struct AvxVnni {
  static constexpr bool kAvx512 = false;
  static constexpr bool kVnni = true;
};

}  // namespace

KernelSet make_avxvnni_set() { return x86::make_set<AvxVnni>(); }

}  // namespace edgellm::kernels::detail
