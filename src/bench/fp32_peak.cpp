#include "bench/fp32_peak.h"

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <ctime>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "core/error.h"
#include "kernels/simd/kernels.h"

namespace edgellm::bench {

namespace {

// Independent accumulator chains: enough to cover FMA latency × FMA ports (4 × 2 on Zen 4,
// Ice Lake and Neoverse), so the loop is throughput-bound.
constexpr int kChains = 12;

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Each probe runs `iters` iterations of kChains vector FMAs and returns the FLOP count; the
// sum of the accumulators goes to `sink` so the work cannot be optimised away.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t fma_probe_avx512(int64_t iters, float* sink) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  __m512 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_ps(total, acc[c]);
  alignas(64) float lanes[16];  // (g++ 12 warns inside _mm512_reduce_add_ps)
  _mm512_store_ps(lanes, total);
  *sink = lanes[0] + lanes[15];
  return static_cast<uint64_t>(iters) * kChains * 16 * 2;
}

__attribute__((target("avx2,fma"))) uint64_t fma_probe_avx2(int64_t iters, float* sink) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  __m256 total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_ps(total, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  *sink = lanes[0] + lanes[7];
  return static_cast<uint64_t>(iters) * kChains * 8 * 2;
}
#elif defined(__aarch64__)
uint64_t fma_probe_neon(int64_t iters, float* sink) {
  float32x4_t acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = vdupq_n_f32(static_cast<float>(c) * 1e-3f);
  const float32x4_t a = vdupq_n_f32(0.999999f), b = vdupq_n_f32(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = vfmaq_f32(b, acc[c], a);
  float32x4_t total = acc[0];
  for (int c = 1; c < kChains; ++c) total = vaddq_f32(total, acc[c]);
  *sink = vaddvq_f32(total);
  return static_cast<uint64_t>(iters) * kChains * 4 * 2;
}
#endif

// Plain multiply-adds for the scalar level (the compiler may vectorise them with the baseline
// ISA, which is what the scalar kernels get too).
uint64_t fma_probe_scalar(int64_t iters, float* sink) {
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = static_cast<float>(c) * 1e-3f;
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
  float total = 0.0f;
  for (float v : acc) total += v;
  *sink = total;
  return static_cast<uint64_t>(iters) * kChains * 2;
}

using Probe = uint64_t (*)(int64_t, float*);

Probe probe_for_active_level() {
  switch (kernels::active().isa) {
#if defined(__x86_64__)
    case kernels::Isa::Avx512:
    case kernels::Isa::Avx512Vnni: return fma_probe_avx512;
    case kernels::Isa::Avx2:
    case kernels::Isa::AvxVnni: return fma_probe_avx2;
#elif defined(__aarch64__)
    case kernels::Isa::Neon:
    case kernels::Isa::NeonDotprod:
    case kernels::Isa::NeonI8mm: return fma_probe_neon;
#endif
    default: return fma_probe_scalar;
  }
}

}  // namespace

double measure_fp32_peak(int threads) {
  if (threads < 1) fail("measure_fp32_peak: need at least one thread, got {}", threads);
  const Probe probe = probe_for_active_level();
  constexpr int64_t kIters = 10'000'000;
  float warm = 0.0f;
  probe(kIters / 10, &warm);  // clock ramp
  double best = 0.0;
  for (int pass = 0; pass < 3; ++pass) {
    std::barrier sync(threads);
    std::vector<double> secs(static_cast<size_t>(threads));
    std::vector<uint64_t> flops(static_cast<size_t>(threads));
    std::vector<float> sinks(static_cast<size_t>(threads));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const auto i = static_cast<size_t>(t);
        sync.arrive_and_wait();
        const double start = thread_seconds();
        flops[i] = probe(kIters, &sinks[i]);
        secs[i] = thread_seconds() - start;
      });
    for (auto& th : pool) th.join();
    const double slowest = *std::max_element(secs.begin(), secs.end());
    best = std::max(best, static_cast<double>(flops[0]) * threads / std::max(slowest, 1e-9) / 1e9);
    volatile float keep = sinks[0];
    (void)keep;
  }
  return best;
}

}  // namespace edgellm::bench
