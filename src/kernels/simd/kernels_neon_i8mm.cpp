// The neon_i8mm level: armv8.2-a + dotprod + i8mm (SMMLA matmul tiles), e.g. Neoverse V1/N2, Graviton3.
// Compiled with this level's -march flags (src/kernels/simd/sources.cmake); only called after
// dispatch checked HWCAP.
#include "kernels/simd/neon_set-inl.h"

namespace edgellm::kernels::detail {
namespace {

struct NeonI8mm {
  static constexpr bool kDot = true;
  static constexpr bool kI8mm = true;
};

}  // namespace

KernelSet make_neon_i8mm_set() { return arm::make_set<NeonI8mm>(); }

}  // namespace edgellm::kernels::detail
