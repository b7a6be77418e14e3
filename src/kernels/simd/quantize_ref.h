// Scalar activation quantizers (the reference the vectorised ones must match bit for bit).
#pragma once

#include <cstdint>

namespace edgellm::kernels::detail {

// n/32 block_q8_0 (d = amax/127 stored as fp16, q = roundf(x * (1/d)), as ggml's
// quantize_row_q8_0_ref) followed by n/32 int16 sums of the quants.
void quantize_q8_0_ref(const float* x, int64_t n, void* out);

// n/256 block_q8_K (as ggml's quantize_row_q8_K_ref: scale -127/max where max is the first
// element of largest magnitude, round half to even, clamp at 127; bsums of 16; all-zero blocks
// get d = 0, zero quants and zero bsums).
void quantize_q8_k_ref(const float* x, int64_t n, void* out);

}  // namespace edgellm::kernels::detail
