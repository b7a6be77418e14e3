// The avx512vnni level: AVX-512 VNNI (Ice Lake / Zen 4 and later): vpdpbusd / vpdpwssd dot products.
// Compiled with this level's -m flags (src/kernels/simd/CMakeLists.txt); only called after
// dispatch checked the CPU.
// GCC 12 warns inside its own AVX-512 intrinsics (they pass _mm512_undefined_*() as the unused
// merge source: GCC bug 105593); the warning is spurious, so it is silenced for this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "kernels/simd/x86_set-inl.h"

namespace edgellm::kernels::detail {
namespace {

struct Avx512Vnni {
  static constexpr bool kAvx512 = true;
  static constexpr bool kVnni = true;
};

}  // namespace

KernelSet make_avx512vnni_set() { return x86::make_set<Avx512Vnni>(); }

}  // namespace edgellm::kernels::detail
