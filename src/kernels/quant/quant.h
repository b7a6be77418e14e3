// Scalar reference quantization and dequantization of every GGUF tensor format. These are the
// bit-exact definitions the SIMD kernels are tested against. Rows must hold a whole number of
// blocks (edgellm::Error otherwise).
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
// Returns the number of bytes written.
size_t quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                     int64_t row_len, const float* importance = nullptr);

}  // namespace edgellm::quant
