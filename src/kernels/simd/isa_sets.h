// Internal: the per-ISA kernel tables. Each is defined in that ISA's translation unit; which
// ones exist is decided by CMake (isa_list_x86.cpp / isa_list_arm.cpp / isa_list_none.cpp).
#pragma once

#include <span>

#include "kernels/simd/cpu_features.h"
#include "kernels/simd/kernels.h"

namespace edgellm::kernels::detail {

// A compiled level: its table builder and whether this CPU can run it.
struct IsaEntry {
  Isa isa;
  bool (*runs_on)(const CpuFeatures&);
  KernelSet (*make)();  // formats it leaves null are filled from the scalar set
};

// The compiled levels other than scalar, lowest first.
std::span<const IsaEntry> compiled_isas();

// The set for an EDGELLM_ISA value: null, "" or "auto" pick the best level; an unknown name or a
// level this CPU/build cannot run throws edgellm::Error.
const KernelSet& select_kernel_set(const char* request);

KernelSet make_scalar_set();
KernelSet make_avx2_set();
KernelSet make_avxvnni_set();
KernelSet make_avx512_set();
KernelSet make_avx512vnni_set();
KernelSet make_neon_set();
KernelSet make_neon_dotprod_set();
KernelSet make_neon_i8mm_set();

}  // namespace edgellm::kernels::detail
