#include "kernels/simd/cpu_features.h"

#include <cstdint>
#include <cstring>

#include "kernels/simd/cpu_probe.h"

namespace edgellm::kernels {

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detail::probe_cpu();
  return features;
}

std::string describe_cpu_features(const CpuFeatures& f) {
  std::string out;
  auto add = [&out](bool present, const char* name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(f.sse42, "sse4.2");
  add(f.avx, "avx");
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  add(f.avx512vnni, "avx512_vnni");
  add(f.avx512bf16, "avx512_bf16");
  add(f.avx_vnni, "avx_vnni");
  add(f.asimd, "asimd");
  add(f.dotprod, "dotprod");
  add(f.i8mm, "i8mm");
  add(f.fp16, "fp16");
  if (out.empty()) out = "(no SIMD extensions detected)";
  if (!f.brand.empty()) out += " (" + f.brand + ")";
  return out;
}

}  // namespace edgellm::kernels
