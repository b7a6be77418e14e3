// Targets with no SIMD kernel family: the scalar kernels only.
#include "kernels/simd/isa_sets.h"

namespace edgellm::kernels::detail {

std::span<const IsaEntry> compiled_isas() { return {}; }

}  // namespace edgellm::kernels::detail
