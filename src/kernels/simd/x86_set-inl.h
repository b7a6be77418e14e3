// x86 kernel family, part 5: assembles one level's KernelSet from the templates.
#pragma once

#include "kernels/simd/driver.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/x86_activation-inl.h"
#include "kernels/simd/x86_float-inl.h"
#include "kernels/simd/x86_kquant-inl.h"
#include "kernels/simd/x86_legacy-inl.h"
#include "kernels/simd/x86_legacy_chain-inl.h"
#include "kernels/simd/x86_legacy_vnni-inl.h"
#include "kernels/simd/x86_prefill_pairs-inl.h"
#include "kernels/simd/x86_q4k_panel-inl.h"
#include "kernels/simd/x86_q4k_panel_ymm-inl.h"
#include "kernels/simd/x86_q6k_panel-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// Independent accumulator chains of the level's widest int8 multiply-add: zmm vpdpbusd on
// AVX-512 VNNI (Zen 5 issues two a cycle, 2x the ymm form; Zen 4 one, the same as ymm), ymm
// otherwise. 12 chains cover a 6-cycle latency at two a cycle.
template <class D>
uint64_t int8_peak_probe(int64_t iters) {
  constexpr int kChains = 12;
#if defined(__AVX512F__) && defined(__AVX512VNNI__)
  if constexpr (D::kVnni && D::kAvx512) {
    __m512i acc[kChains];
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_epi32(k);
    const __m512i a = _mm512_set1_epi8(3);
    __m512i b = _mm512_set1_epi8(-5);
    for (int64_t it = 0; it < iters; ++it) {
      __asm__ volatile("" : "+v"(b));  // keeps b opaque so the loop is not folded away
#pragma GCC unroll 12
      for (int k = 0; k < kChains; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], a, b);
    }
    alignas(64) int32_t lanes[16];
    __m512i s = acc[0];
    for (int k = 1; k < kChains; ++k) s = _mm512_add_epi32(s, acc[k]);
    _mm512_store_si512(lanes, s);
    volatile int32_t sink = lanes[0];
    (void)sink;
    return static_cast<uint64_t>(iters) * kChains * 64 * 2;
  }
#endif
  __m256i acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm256_set1_epi32(k);
  const __m256i a = _mm256_set1_epi8(3);
  __m256i b = _mm256_set1_epi8(-5);
  for (int64_t it = 0; it < iters; ++it) {
    __asm__ volatile("" : "+x"(b));
#pragma GCC unroll 12
    for (int k = 0; k < kChains; ++k) acc[k] = dot_u8s8<D>(acc[k], a, b);
  }
  __m256i s = acc[0];
  for (int k = 1; k < kChains; ++k) s = _mm256_add_epi32(s, acc[k]);
  volatile int sink = hsum_i32(s);
  (void)sink;
  return static_cast<uint64_t>(iters) * kChains * 32 * 2;
}

// The read-bandwidth probe's loop: the sum of `bytes` (a multiple of 256) as 64-bit lanes of the
// level's widest loads, four independent accumulators; with l2_ahead > 0 it also prefetches
// each line that far ahead into L2, as the decode kernels do. Measured on Zen 5: one core reads
// 41 GB/s with zmm loads but 23 with 64-bit ones (a bound the kernels beat); on two cores the
// prefetch adds ~10%.
template <class D>
uint64_t read_probe(const uint8_t* p, size_t bytes, size_t l2_ahead) {
#if defined(__AVX512F__)
  if constexpr (D::kAvx512) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < bytes; i += 256) {
      if (l2_ahead != 0) prefetch_span(p + i, 0, 256, l2_ahead);
      a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
      a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
      a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
      a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
    }
    alignas(64) uint64_t lanes[8];
    _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
    uint64_t sum = 0;
    for (uint64_t lane : lanes) sum += lane;
    return sum;
  }
#endif
  __m256i a[4];
  for (auto& v : a) v = _mm256_setzero_si256();
  for (size_t i = 0; i < bytes; i += 256) {
    if (l2_ahead != 0) prefetch_span(p + i, 0, 256, l2_ahead);
    for (int k = 0; k < 8; ++k) a[k % 4] = _mm256_add_epi64(a[k % 4], load256(p + i + 32 * k));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(_mm256_add_epi64(a[0], a[1]), _mm256_add_epi64(a[2], a[3])));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

template <class D>
KernelSet make_set() {
  using detail::format_kernels;
  KernelSet ks;
  auto set = [&ks](TensorType t, FormatKernels k) { ks.formats[format_index(t)] = k; };
  set(TensorType::F32, format_kernels<FloatKernel<D, WF32>>());
  set(TensorType::F16, format_kernels<FloatKernel<D, WF16>>());
  set(TensorType::BF16, format_kernels<FloatKernel<D, WBF16>>());
  // Q4_0, Q5_0 and Q8_0: below, per level (every x86 level computes them in one arithmetic).
  set(TensorType::Q4_1, format_kernels<LegacyKernel<D, Q4_1<D>>>());
  set(TensorType::Q5_1, format_kernels<LegacyKernel<D, Q5_1<D>>>());
  set(TensorType::IQ4_NL, format_kernels<LegacyKernel<D, Iq4Nl<D>>>());
  set(TensorType::Q2_K, format_kernels<KQuantKernel<D, KQ2>>());
  set(TensorType::Q3_K, format_kernels<KQuantKernel<D, KQ3>>());
  set(TensorType::Q4_K, format_kernels<Q4KKernel<D>>());
  set(TensorType::Q5_K, format_kernels<KQuantKernel<D, KQ5>>());
  set(TensorType::Q6_K, format_kernels<Q6KKernel<D>>());
  if constexpr (!(D::kVnni && D::kAvx512)) {
    // Q4_0, Q5_0 and Q8_0 in the AVX-512 VNNI level's arithmetic, rows and panels
    // (x86_legacy_chain-inl.h).
    set(TensorType::Q4_0, format_kernels<ChainRowKernel<D, TensorType::Q4_0>>());
    set(TensorType::Q5_0, format_kernels<ChainRowKernel<D, TensorType::Q5_0>>());
    set(TensorType::Q8_0, format_kernels<ChainRowKernel<D, TensorType::Q8_0>>());
    ks.formats[format_index(TensorType::Q4_0)].panel_matmul = &matmul_chain_panels<D, TensorType::Q4_0>;
    ks.formats[format_index(TensorType::Q5_0)].panel_matmul = &matmul_chain_panels<D, TensorType::Q5_0>;
    ks.formats[format_index(TensorType::Q8_0)].panel_matmul = &matmul_chain_panels<D, TensorType::Q8_0>;
    // Q4_K panels in the VNNI panel kernel's arithmetic (x86_q4k_panel_ymm-inl.h), where no
    // 512-bit row kernel reads Q4_K faster (the avx512 level's: Llama-3.2-1B Q4_K_M pp128 108 vs
    // 103 t/s, decode 0.84 vs 0.82 of the read bound with these panels).
    if constexpr (!D::kAvx512)
      ks.formats[format_index(TensorType::Q4_K)].panel_matmul = &matmul_q4k_panels_ymm<D>;
  }
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
  ks.read_probe = &read_probe<D>;
  return ks;
}

}  // namespace
}  // namespace edgellm::kernels::x86
