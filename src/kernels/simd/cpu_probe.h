// The architecture-specific half of cpu_features(): exactly one of cpu_probe_x86.cpp /
// cpu_probe_arm.cpp / cpu_probe_other.cpp is compiled in (chosen by CMake from the target CPU).
#pragma once

#include "kernels/simd/cpu_features.h"

namespace edgellm::kernels::detail {

CpuFeatures probe_cpu();

}  // namespace edgellm::kernels::detail
