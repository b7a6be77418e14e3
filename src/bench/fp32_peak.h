// FP32 fused multiply-add throughput of the active kernel level (AVX-512, AVX2+FMA or NEON):
// the compute ceiling of prefill on F32/F16/BF16 weights, whose kernels multiply in FP32.
// kernels/simd/roofline.h measures the int8 ceiling the quantized formats use.
#pragma once

namespace edgellm::bench {

// GFLOP/s (2 per multiply-add) with `threads` threads, each timed in its own CPU time as
// roofline.h does (robust to a loaded machine). Best of a few passes.
double measure_fp32_peak(int threads);

}  // namespace edgellm::bench
