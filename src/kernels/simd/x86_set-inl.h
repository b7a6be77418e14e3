// x86 kernel family, part 5: assembles one level's KernelSet from the templates.
#pragma once

#include "kernels/simd/driver.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/x86_activation-inl.h"
#include "kernels/simd/x86_float-inl.h"
#include "kernels/simd/x86_kquant-inl.h"
#include "kernels/simd/x86_legacy-inl.h"
#include "kernels/simd/x86_legacy_vnni-inl.h"
#include "kernels/simd/x86_prefill-inl.h"
#include "kernels/simd/x86_q4k_panel-inl.h"
#include "kernels/simd/x86_q6k_panel-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// Independent accumulator chains of the level's widest int8 multiply-add.
template <class D>
uint64_t int8_peak_probe(int64_t iters) {
  __m256i acc[8];
  for (int k = 0; k < 8; ++k) acc[k] = _mm256_set1_epi32(k);
  const __m256i a = _mm256_set1_epi8(3);
  __m256i b = _mm256_set1_epi8(-5);
  // An empty asm keeps b opaque so the loop is not folded away.
  for (int64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+x"(b));
    for (int k = 0; k < 8; ++k) acc[k] = dot_u8s8<D>(acc[k], a, b);
  }
  __m256i s = acc[0];
  for (int k = 1; k < 8; ++k) s = _mm256_add_epi32(s, acc[k]);
  volatile int sink = hsum_i32(s);
  (void)sink;
  return static_cast<uint64_t>(iters) * 8 * 32 * 2;
}

template <class D>
KernelSet make_set() {
  using detail::format_kernels;
  KernelSet ks;
  auto set = [&ks](TensorType t, FormatKernels k) { ks.formats[format_index(t)] = k; };
  set(TensorType::F32, format_kernels<FloatKernel<D, WF32>>());
  set(TensorType::F16, format_kernels<FloatKernel<D, WF16>>());
  set(TensorType::BF16, format_kernels<FloatKernel<D, WBF16>>());
  set(TensorType::Q4_0, format_kernels<LegacyKernel<D, Q4_0<D>>>());
  set(TensorType::Q4_1, format_kernels<LegacyKernel<D, Q4_1<D>>>());
  set(TensorType::Q5_0, format_kernels<LegacyKernel<D, Q5_0<D>>>());
  set(TensorType::Q5_1, format_kernels<LegacyKernel<D, Q5_1<D>>>());
  set(TensorType::Q8_0, format_kernels<LegacyKernel<D, Q8_0<D>>>());
  set(TensorType::IQ4_NL, format_kernels<LegacyKernel<D, Iq4Nl<D>>>());
  set(TensorType::Q2_K, format_kernels<KQuantKernel<D, KQ2>>());
  set(TensorType::Q3_K, format_kernels<KQuantKernel<D, KQ3>>());
  set(TensorType::Q4_K, format_kernels<Q4KKernel<D>>());
  set(TensorType::Q5_K, format_kernels<KQuantKernel<D, KQ5>>());
  set(TensorType::Q6_K, format_kernels<KQuantKernel<D, KQ6>>());
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
  if constexpr (D::kVnni && D::kAvx512) {
    // The block-chain tiles (x86_legacy_vnni-inl.h) and the panel GEMM for prefill
    // (x86_prefill-inl.h): one arithmetic for every token count.
    set(TensorType::Q4_0, format_kernels<LegacyChainKernel<D, Q4_0<D>>>());
    set(TensorType::Q4_1, format_kernels<LegacyChainKernel<D, Q4_1<D>>>());
    set(TensorType::Q5_0, format_kernels<LegacyChainKernel<D, Q5_0<D>>>());
    set(TensorType::Q5_1, format_kernels<LegacyChainKernel<D, Q5_1<D>>>());
    set(TensorType::Q8_0, format_kernels<LegacyChainKernel<D, Q8_0<D>>>());
    set(TensorType::IQ4_NL, format_kernels<LegacyChainKernel<D, Iq4Nl<D>>>());
    ks.formats[format_index(TensorType::Q4_0)].matmul = &matmul_panels<D, TensorType::Q4_0>;
    ks.formats[format_index(TensorType::Q5_0)].matmul = &matmul_panels<D, TensorType::Q5_0>;
    ks.formats[format_index(TensorType::Q8_0)].matmul = &matmul_panels<D, TensorType::Q8_0>;
    ks.formats[format_index(TensorType::Q4_0)].panel_matmul = &matmul_packed<TensorType::Q4_0>;
    ks.formats[format_index(TensorType::Q5_0)].panel_matmul = &matmul_packed<TensorType::Q5_0>;
    ks.formats[format_index(TensorType::Q8_0)].panel_matmul = &matmul_packed<TensorType::Q8_0>;
    ks.formats[format_index(TensorType::Q4_K)].panel_matmul = &matmul_q4k_packed;
    // Q6_K panels round differently from its row kernel (f32 sums per super-block, not in 8
    // lanes), but are batch-invariant themselves: a model uses one layout throughout.
    ks.formats[format_index(TensorType::Q6_K)].panel_matmul = &matmul_packed_q6k;
  }
#endif
  ks.quantize_q8_0 = &quantize_q8_0;
  ks.quantize_q8_k = &quantize_q8_k;
  ks.f16_to_f32 = &f16_to_f32;
  ks.swiglu = &swiglu;
  ks.int8_peak_probe = &int8_peak_probe<D>;
  return ks;
}

}  // namespace
}  // namespace edgellm::kernels::x86
