// The avx2 level: AVX2 + FMA + F16C (Haswell / Zen 1 and later): vpmaddubsw dot products.
// Compiled with this level's -m flags (src/kernels/simd/CMakeLists.txt); only called after
// dispatch checked the CPU.
#include "kernels/simd/x86_set-inl.h"

namespace edgellm::kernels::detail {
namespace {

struct Avx2 {
  static constexpr bool kAvx512 = false;
  static constexpr bool kVnni = false;
};

}  // namespace

KernelSet make_avx2_set() { return x86::make_set<Avx2>(); }

}  // namespace edgellm::kernels::detail
