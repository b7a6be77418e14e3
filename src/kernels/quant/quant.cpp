// Dispatch of the scalar reference (de)quantizers by tensor type.
#include "kernels/quant/quant.h"

#include "core/error.h"
#include "core/fp16.h"

namespace edgellm::quant {

bool can_quantize(TensorType type) {
  switch (type) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::BF16:
      return true;
    default:
      return false;
  }
}

bool can_dequantize(TensorType type) { return can_quantize(type); }

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
  row_bytes(type, n);  // validates n against the block size
  switch (type) {
    case TensorType::F32: {
      const auto* in = static_cast<const float*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = in[i];
      return;
    }
    case TensorType::F16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(in[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(in[i]);
      return;
    }
    default:
      fail("dequantize_row: type {} not yet supported", type_name(type));
  }
}

size_t quantize_rows(TensorType type, const float* src, void* dst, int64_t n_rows,
                     int64_t row_len, const float* /*importance*/) {
  if (n_rows < 0) fail("quantize_rows: negative row count {}", n_rows);
  const size_t bytes_per_row = row_bytes(type, row_len);
  const int64_t n = n_rows * row_len;
  switch (type) {
    case TensorType::F32: {
      auto* out = static_cast<float*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = src[i];
      break;
    }
    case TensorType::F16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(src[i]);
      break;
    }
    case TensorType::BF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_bf16(src[i]);
      break;
    }
    default:
      fail("quantize_rows: type {} not yet supported", type_name(type));
  }
  return bytes_per_row * static_cast<size_t>(n_rows);
}

}  // namespace edgellm::quant
