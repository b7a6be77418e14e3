// The neon level: baseline armv8-a Advanced SIMD (int8 dots via SMULL + SADALP).
// Compiled with this level's -march flags (src/kernels/simd/sources.cmake); only called after
// dispatch checked HWCAP.
#include "kernels/simd/neon_set-inl.h"

namespace edgellm::kernels::detail {
namespace {

struct Neon {
  static constexpr bool kDot = false;
  static constexpr bool kI8mm = false;
};

}  // namespace

KernelSet make_neon_set() { return arm::make_set<Neon>(); }

}  // namespace edgellm::kernels::detail
