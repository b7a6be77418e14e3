// Per-format scalar kernels behind the quant.h dispatch (internal to src/kernels/quant).
// A dequantizer converts n_blocks consecutive blocks; a quantizer writes one row of row_len
// elements (a whole number of blocks), with `importance` (nullable) holding row_len weights.
#pragma once

#include <cstdint>
#include <cstring>

namespace edgellm::quant::detail {

// Blocks are copied in and out so that rows may sit at any address.
template <class Block>
Block load_block(const uint8_t* bytes) {
  Block block;
  std::memcpy(&block, bytes, sizeof block);
  return block;
}
template <class Block>
void store_block(const Block& block, uint8_t* bytes) {
  std::memcpy(bytes, &block, sizeof block);
}

using DequantizeFn = void (*)(const uint8_t* src, float* dst, int64_t n_blocks);
using QuantizeRowFn = void (*)(const float* x, uint8_t* dst, int64_t row_len, const float* importance);

// quant_legacy.cpp
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q5_0(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q5_1(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q8_1(const uint8_t* src, float* dst, int64_t n_blocks);
void quantize_row_q4_0(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q4_1(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q5_0(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q5_1(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q8_0(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q8_1(const float* x, uint8_t* dst, int64_t row_len, const float* importance);

// quant_k_low.cpp
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t n_blocks);
void quantize_row_q2_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q3_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance);

// quant_k_high.cpp
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t n_blocks);
void quantize_row_q4_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q5_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance);

// quant_k6.cpp
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n_blocks);
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n_blocks);
void quantize_row_q6_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance);
void quantize_row_q8_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance);

// quant_iq4.cpp
void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t n_blocks);
void quantize_row_iq4_nl(const float* x, uint8_t* dst, int64_t row_len, const float* importance);

}  // namespace edgellm::quant::detail
