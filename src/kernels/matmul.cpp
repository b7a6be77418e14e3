// Generic matmul: dequantize a tile of weight rows once into a float buffer, then dot the tile
// with every token of the batch. This is the portable baseline the SIMD kernels replace.
#include "kernels/matmul.h"

#include <algorithm>
#include <bit>
#include <vector>

#include "core/error.h"
#include "kernels/quant/quant.h"
#include "runtime/thread_pool.h"

namespace edgellm::kernels {

namespace {

constexpr int64_t kRowTile = 8;     // weight rows dequantized together
constexpr int64_t kTokenTile = 32;  // tokens dotted against one tile while it is in cache

// IEEE half -> float without branches, so that the row loop vectorizes: moving the 15 bits
// below the sign to the top of a float's exponent/mantissa and scaling by 2^112 rebias the
// exponent (exact for normal and subnormal halves); infinities and NaNs get an all-ones
// exponent. Bit-identical to fp16_to_fp32 (tested exhaustively).
void f16_row_to_f32(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = in[i];
    const uint32_t magnitude = (h & 0x7fffu) << 13;
    const float scaled = std::bit_cast<float>(magnitude) * 0x1p112f;
    const uint32_t finite = std::bit_cast<uint32_t>(scaled);
    // exponent 31: infinity, or a NaN made quiet (bit 22) as F16C and fp16_to_fp32 do
    const uint32_t special = magnitude | 0x7f800000u | ((h & 0x3ffu) != 0 ? 0x00400000u : 0u);
    const uint32_t bits = (h & 0x7c00u) == 0x7c00u ? special : finite;
    out[i] = std::bit_cast<float>(bits | ((h & 0x8000u) << 16));
  }
}

void bf16_row_to_f32(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::bit_cast<float>(static_cast<uint32_t>(in[i]) << 16);
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int l = 0; l < kLanes; l += 2) sum += acc[l] + acc[l + 1];
  return sum;
}

void dequantize_weight_row(const WeightMatrix& w, int64_t r, float* out) {
  switch (w.type) {
    case TensorType::F16:
      f16_row_to_f32(reinterpret_cast<const uint16_t*>(w.row(r)), out, w.cols);
      return;
    case TensorType::BF16:
      bf16_row_to_f32(reinterpret_cast<const uint16_t*>(w.row(r)), out, w.cols);
      return;
    default:
      quant::dequantize_row(w.type, w.row(r), out, w.cols);
  }
}

void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            runtime::ThreadPool& pool) {
  if (w.data == nullptr || w.rows <= 0 || w.cols <= 0) fail("matmul: empty weight matrix");
  if (n_tokens <= 0) return;
  const bool direct = w.type == TensorType::F32;  // F32 rows are used in place
  pool.parallel_for(w.rows, kRowTile, [&](int64_t row_begin, int64_t row_end) {
    std::vector<float> tile;
    if (!direct) tile.resize(static_cast<size_t>(kRowTile * w.cols));
    const float* rows_ptr[kRowTile];
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowTile) {
      const int64_t nr = std::min(kRowTile, row_end - r0);
      for (int64_t i = 0; i < nr; ++i) {
        if (direct) {
          rows_ptr[i] = reinterpret_cast<const float*>(w.row(r0 + i));
        } else {
          float* dst = tile.data() + i * w.cols;
          dequantize_weight_row(w, r0 + i, dst);
          rows_ptr[i] = dst;
        }
      }
      for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
        const int64_t t_end = std::min(n_tokens, t0 + kTokenTile);
        for (int64_t t = t0; t < t_end; ++t) {
          const float* xt = x + t * w.cols;
          float* yt = y + t * w.rows + r0;
          for (int64_t i = 0; i < nr; ++i) yt[i] = dot_f32(rows_ptr[i], xt, w.cols);
        }
      }
    }
  });
}

}  // namespace edgellm::kernels
