// The kernel levels compiled into an aarch64 build.
#include "kernels/simd/isa_sets.h"

namespace edgellm::kernels::detail {
namespace {

bool has_neon(const CpuFeatures& f) { return f.asimd; }
bool has_dotprod(const CpuFeatures& f) { return f.asimd && f.dotprod; }
bool has_i8mm(const CpuFeatures& f) { return f.asimd && f.dotprod && f.i8mm; }

constexpr IsaEntry kEntries[] = {
    {Isa::Neon, &has_neon, &make_neon_set},
    {Isa::NeonDotprod, &has_dotprod, &make_neon_dotprod_set},
    {Isa::NeonI8mm, &has_i8mm, &make_neon_i8mm_set},
};

}  // namespace

std::span<const IsaEntry> compiled_isas() { return kEntries; }

}  // namespace edgellm::kernels::detail
