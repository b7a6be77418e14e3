// The avx512 level: AVX-512 F/BW/VL/DQ (Skylake-X and later): 32 registers, mask ops, wider tiles.
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

struct Avx512 {
  static constexpr bool kAvx512 = true;
  static constexpr bool kVnni = false;
};

}  // namespace

KernelSet make_avx512_set() { return x86::make_set<Avx512>(); }

}  // namespace edgellm::kernels::detail
