// Element-wise and row-wise operations of the transformer forward pass (scalar reference;
// per-ISA versions come with the SIMD kernels).
#pragma once

#include <cstdint>

namespace edgellm::kernels {

// y = x / sqrt(mean(x²) + eps) * weight over one row of n floats (y may alias x).
void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps);

// gate[i] = silu(gate[i]) * up[i]   (SwiGLU), silu(v) = v / (1 + e^-v): the active kernel
// level's vectorized version (kernels/simd), or swiglu_reference (std::exp) on the scalar level.
void swiglu(float* gate, const float* up, int64_t n);
void swiglu_reference(float* gate, const float* up, int64_t n);

// In-place softmax over n floats (max-subtracted; n >= 1).
void softmax(float* x, int64_t n);

// out[i] = in[i] as IEEE half -> float, for n values; bit-identical to fp16_to_fp32 and written
// so that the compiler vectorizes it (KV cache reads, F16 weight rows).
void f16_row_to_f32(const uint16_t* in, float* out, int64_t n);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// y[i] += b[i % n_cols] for n_rows rows of n_cols (bias broadcast over tokens).
void add_bias(float* y, const float* b, int64_t n_rows, int64_t n_cols);

}  // namespace edgellm::kernels
