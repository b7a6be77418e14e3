// The kernel levels compiled into an x86-64 build.
#include "kernels/simd/isa_sets.h"

namespace edgellm::kernels::detail {
namespace {

bool has_avx2(const CpuFeatures& f) { return f.avx2 && f.fma && f.f16c; }
bool has_avxvnni(const CpuFeatures& f) { return has_avx2(f) && f.avx_vnni; }
bool has_avx512(const CpuFeatures& f) {
  return has_avx2(f) && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
}
bool has_avx512vnni(const CpuFeatures& f) { return has_avx512(f) && f.avx512vnni; }

constexpr IsaEntry kEntries[] = {
    {Isa::Avx2, &has_avx2, &make_avx2_set},
    {Isa::AvxVnni, &has_avxvnni, &make_avxvnni_set},
    {Isa::Avx512, &has_avx512, &make_avx512_set},
    {Isa::Avx512Vnni, &has_avx512vnni, &make_avx512vnni_set},
};

}  // namespace

std::span<const IsaEntry> compiled_isas() { return kEntries; }

}  // namespace edgellm::kernels::detail
