// Targets without a SIMD kernel family: only the scalar kernels are used.
#include "kernels/simd/cpu_probe.h"

namespace edgellm::kernels::detail {

CpuFeatures probe_cpu() { return {}; }

}  // namespace edgellm::kernels::detail
