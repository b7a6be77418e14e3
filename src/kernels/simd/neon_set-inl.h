// aarch64 kernel family, part 5: assembles one level's KernelSet from the templates.
#pragma once

#include "kernels/simd/driver.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/neon_activation-inl.h"
#include "kernels/simd/neon_float-inl.h"
#include "kernels/simd/neon_kquant-inl.h"
#include "kernels/simd/neon_legacy-inl.h"

namespace edgellm::kernels::arm {
namespace {

// Independent accumulator chains of the level's int8 dot instruction (SDOT, or the
// SMULL + SADALP pair without dotprod).
template <class D>
uint64_t int8_peak_probe(int64_t iters) {
  int32x4_t acc[8];
  for (int k = 0; k < 8; ++k) acc[k] = vdupq_n_s32(k);
  const int8x16_t a = vdupq_n_s8(3);
  int8x16_t b = vdupq_n_s8(-5);
  for (int64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+w"(b));
    for (int k = 0; k < 8; ++k) acc[k] = dot<D>(acc[k], a, b);
  }
  int32x4_t s = acc[0];
  for (int k = 1; k < 8; ++k) s = vaddq_s32(s, acc[k]);
  volatile int sink = vaddvq_s32(s);
  (void)sink;
  return static_cast<uint64_t>(iters) * 8 * 16 * 2;
}

// The read-bandwidth probe's loop (kernels.h): `bytes` (a multiple of 256) summed as 64-bit
// lanes of 128-bit loads, four independent accumulators, optionally prefetching l2_ahead bytes
// ahead.
uint64_t read_probe(const uint8_t* p, size_t bytes, size_t l2_ahead) {
  uint64x2_t a[4] = {vdupq_n_u64(0), vdupq_n_u64(0), vdupq_n_u64(0), vdupq_n_u64(0)};
  for (size_t i = 0; i < bytes; i += 256) {
    if (l2_ahead != 0)
      for (size_t o = 0; o < 256; o += 64) __builtin_prefetch(p + i + l2_ahead + o, 0, 2);
    for (int k = 0; k < 16; ++k)
      a[k % 4] = vaddq_u64(a[k % 4], vld1q_u64(reinterpret_cast<const uint64_t*>(p + i + 16 * k)));
  }
  return vaddvq_u64(vaddq_u64(vaddq_u64(a[0], a[1]), vaddq_u64(a[2], a[3])));
}

template <class D>
KernelSet make_set() {
  using detail::format_kernels;
  KernelSet ks;
  auto set = [&ks](TensorType t, FormatKernels k) { ks.formats[format_index(t)] = k; };
  set(TensorType::F32, format_kernels<FloatKernel<D, WF32>>());
  set(TensorType::F16, format_kernels<FloatKernel<D, WF16>>());
  set(TensorType::BF16, format_kernels<FloatKernel<D, WBF16>>());
  set(TensorType::Q4_0, format_kernels<LegacyKernel<D, Q4_0>>());
  set(TensorType::Q4_1, format_kernels<LegacyKernel<D, Q4_1>>());
  set(TensorType::Q5_0, format_kernels<LegacyKernel<D, Q5_0>>());
  set(TensorType::Q5_1, format_kernels<LegacyKernel<D, Q5_1>>());
  set(TensorType::Q8_0, format_kernels<LegacyKernel<D, Q8_0>>());
  set(TensorType::IQ4_NL, format_kernels<LegacyKernel<D, Iq4Nl>>());
  set(TensorType::Q2_K, format_kernels<KQuantKernel<D, KQ2>>());
  set(TensorType::Q3_K, format_kernels<KQuantKernel<D, KQ3>>());
  set(TensorType::Q4_K, format_kernels<KQuantKernel<D, KQ4>>());
  set(TensorType::Q5_K, format_kernels<KQuantKernel<D, KQ5>>());
  set(TensorType::Q6_K, format_kernels<KQuantKernel<D, KQ6>>());
  ks.quantize_q8_0 = &quantize_q8_0;
  ks.quantize_q8_k = &quantize_q8_k;
  ks.f16_to_f32 = &f16_to_f32;
  ks.swiglu = &swiglu;
  ks.int8_peak_probe = &int8_peak_probe<D>;
  ks.read_probe = &read_probe;
  return ks;
}

}  // namespace
}  // namespace edgellm::kernels::arm
