// Dispatch of the scalar reference (de)quantizers by tensor type, plus input validation.
//
// Which ggml path each type follows (ggml_quantize_chunk, as called by llama-quantize):
//   type        no importance                 with importance (imatrix)
//   F32/F16/BF16 plain conversion (RNE)        (ignored)
//   Q4_0..Q5_1  quantize_row_*_ref            quantize_row_*_impl (make_qx / make_qkx3 search)
//   Q8_0        quantize_row_q8_0_ref         (ignored, as in ggml)
//   Q2_K..Q6_K  quantize_row_*_K_ref          quantize_row_*_K_impl
//   IQ4_NL      quantize_iq4_nl (ntry 7, w=x^2) quantize_iq4_nl (ntry 7, imatrix weights)
//   Q8_1, Q8_K  quantize_row_*_ref            (ignored; activation formats, not in files)
#include "kernels/quant/quant.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/quant/quant_kernels.h"

namespace edgellm::quant {
namespace {

using detail::DequantizeFn;
using detail::QuantizeRowFn;

struct BlockKernels {
  TensorType type;
  DequantizeFn dequantize;
  QuantizeRowFn quantize;
};

constexpr BlockKernels kBlockKernels[] = {
    {TensorType::Q4_0, detail::dequantize_q4_0, detail::quantize_row_q4_0},
    {TensorType::Q4_1, detail::dequantize_q4_1, detail::quantize_row_q4_1},
    {TensorType::Q5_0, detail::dequantize_q5_0, detail::quantize_row_q5_0},
    {TensorType::Q5_1, detail::dequantize_q5_1, detail::quantize_row_q5_1},
    {TensorType::Q8_0, detail::dequantize_q8_0, detail::quantize_row_q8_0},
    {TensorType::Q8_1, detail::dequantize_q8_1, detail::quantize_row_q8_1},
    {TensorType::Q2_K, detail::dequantize_q2_k, detail::quantize_row_q2_k},
    {TensorType::Q3_K, detail::dequantize_q3_k, detail::quantize_row_q3_k},
    {TensorType::Q4_K, detail::dequantize_q4_k, detail::quantize_row_q4_k},
    {TensorType::Q5_K, detail::dequantize_q5_k, detail::quantize_row_q5_k},
    {TensorType::Q6_K, detail::dequantize_q6_k, detail::quantize_row_q6_k},
    {TensorType::Q8_K, detail::dequantize_q8_k, detail::quantize_row_q8_k},
    {TensorType::IQ4_NL, detail::dequantize_iq4_nl, detail::quantize_row_iq4_nl},
};

const BlockKernels* find_block_kernels(TensorType type) {
  for (const auto& k : kBlockKernels)
    if (k.type == type) return &k;
  return nullptr;
}

// Block formats cannot represent inf / NaN (ggml would write garbage scales), so reject them
// with the position instead.
void check_finite_rows(TensorType type, const float* src, int64_t n_rows, int64_t row_len) {
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t c = 0; c < row_len; ++c)
      if (!std::isfinite(src[r * row_len + c]))
        fail("quantize_rows: cannot quantize {} to {}: row {} column {} is not finite", src[r * row_len + c],
             type_name(type), r, c);
}

void check_importance(const float* importance, int64_t row_len) {
  for (int64_t c = 0; c < row_len; ++c)
    if (!(importance[c] >= 0) || !std::isfinite(importance[c]))
      fail("quantize_rows: importance weight {} at column {} must be finite and >= 0", importance[c], c);
}

}  // namespace

bool can_quantize(TensorType type) { return is_float_type(type) || find_block_kernels(type) != nullptr; }

bool can_dequantize(TensorType type) { return can_quantize(type); }

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  if (n < 0) fail("dequantize_row: negative element count {}", n);
  row_bytes(type, n);  // throws when n is not a multiple of the block size
  if (n == 0) return;
  if (!src || !dst) fail("dequantize_row: null buffer for {} elements of {}", n, type_name(type));
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* in = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(static_cast<uint16_t>(in[2 * i] | (in[2 * i + 1] << 8)));
      return;
    }
    case TensorType::BF16: {
      const auto* in = static_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(static_cast<uint16_t>(in[2 * i] | (in[2 * i + 1] << 8)));
      return;
    }
    default:
      break;
  }
  const BlockKernels* kernels = find_block_kernels(type);
  if (!kernels) fail("dequantize_row: tensor type {} is not supported", type_name(type));
  kernels->dequantize(static_cast<const uint8_t*>(src), dst, n / traits(type).block_size);
}

size_t quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows, int64_t row_len,
                     const float* importance) {
  if (n_rows < 0) fail("quantize_rows: negative row count {}", n_rows);
  if (row_len < 0) fail("quantize_rows: negative row length {}", row_len);
  const size_t bytes_per_row = row_bytes(type, row_len);  // throws on a partial block
  if (row_len > 0 && n_rows > std::numeric_limits<int64_t>::max() / row_len)
    fail("quantize_rows: {} rows of {} elements overflow", n_rows, row_len);
  const int64_t n = n_rows * row_len;
  if (n == 0) return 0;
  if (!src || !dst) fail("quantize_rows: null buffer for {} x {} elements of {}", n_rows, row_len, type_name(type));
  auto* out = static_cast<uint8_t*>(dst);
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return bytes_per_row * static_cast<size_t>(n_rows);
    case TensorType::F16:
    case TensorType::BF16: {
      const bool half = type == TensorType::F16;
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t bits = half ? fp32_to_fp16(src[i]) : fp32_to_bf16(src[i]);
        out[2 * i] = static_cast<uint8_t>(bits);
        out[2 * i + 1] = static_cast<uint8_t>(bits >> 8);
      }
      return bytes_per_row * static_cast<size_t>(n_rows);
    }
    default:
      break;
  }
  const BlockKernels* kernels = find_block_kernels(type);
  if (!kernels) fail("quantize_rows: tensor type {} is not supported", type_name(type));
  check_finite_rows(type, src, n_rows, row_len);
  if (importance) check_importance(importance, row_len);
  for (int64_t r = 0; r < n_rows; ++r)
    kernels->quantize(src + r * row_len, out + static_cast<size_t>(r) * bytes_per_row, row_len, importance);
  return bytes_per_row * static_cast<size_t>(n_rows);
}

}  // namespace edgellm::quant
