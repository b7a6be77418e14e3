// aarch64 feature probe via the kernel's HWCAP bits (Linux).
#include <sys/auxv.h>

#include "kernels/simd/cpu_probe.h"

namespace edgellm::kernels::detail {
namespace {

// Bit numbers from the Linux uapi <asm/hwcap.h>, spelled out so older headers work too.
constexpr unsigned long kHwcapAsimd = 1ul << 1;
constexpr unsigned long kHwcapAsimdhp = 1ul << 10;
constexpr unsigned long kHwcapAsimddp = 1ul << 20;
constexpr unsigned long kHwcap2I8mm = 1ul << 13;

}  // namespace

CpuFeatures probe_cpu() {
  CpuFeatures f;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  f.asimd = (hwcap & kHwcapAsimd) != 0;
  f.fp16 = (hwcap & kHwcapAsimdhp) != 0;
  f.dotprod = (hwcap & kHwcapAsimddp) != 0;
  f.i8mm = (hwcap2 & kHwcap2I8mm) != 0;
  return f;
}

}  // namespace edgellm::kernels::detail
