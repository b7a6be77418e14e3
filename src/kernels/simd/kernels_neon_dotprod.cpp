// The neon_dotprod level: armv8.2-a + dotprod (SDOT), e.g. Cortex-A55/A76, Apple M1, Graviton2.
// Compiled with this level's -march flags (src/kernels/simd/sources.cmake); only called after
// dispatch checked HWCAP.
#include "kernels/simd/neon_set-inl.h"

namespace edgellm::kernels::detail {
namespace {

struct NeonDotprod {
  static constexpr bool kDot = true;
  static constexpr bool kI8mm = false;
};

}  // namespace

KernelSet make_neon_dotprod_set() { return arm::make_set<NeonDotprod>(); }

}  // namespace edgellm::kernels::detail
