// Scalar reference quantization and dequantization of every GGUF tensor format. These are the
// bit-exact definitions the SIMD kernels are tested against. Rows must hold a whole number of
// blocks (edgellm::Error otherwise).
//
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
// Q8_K, IQ4_NL (both directions). Output bytes equal llama.cpp's ggml_quantize_chunk (what
// llama-quantize writes) with and without an imatrix; quant.cpp lists which ggml path each type
// follows. Block layouts for kernels: quant_blocks.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace edgellm::quant {

// True for the formats we can quantize to / dequantize from.
bool can_quantize(TensorType type);
bool can_dequantize(TensorType type);

// Dequantize n elements (one row or many contiguous rows) of `type` at src into dst.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// Quantize n elements into dst (row_bytes(type, n) bytes). `importance` (may be null) holds one
// non-negative weight per column of the row (length row_len) and weights the squared error of
// the scale search, as llama.cpp's imatrix does; rows are row_len long and n a multiple of it.
// Block formats reject inf / NaN inputs and negative or non-finite importance weights with
// edgellm::Error (float formats convert them). Returns the number of bytes written.
size_t quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                     int64_t row_len, const float* importance = nullptr);

}  // namespace edgellm::quant
