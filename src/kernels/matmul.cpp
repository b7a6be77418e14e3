// Generic matmul: dequantize a tile of weight rows once into a float buffer, then dot the tile
// with every token of the batch. This is the portable baseline the SIMD kernels replace.
#include "kernels/matmul.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/quant/quant.h"
#include "runtime/thread_pool.h"

namespace edgellm::kernels {

namespace {

constexpr int64_t kRowTile = 8;     // weight rows dequantized together
constexpr int64_t kTokenTile = 32;  // tokens dotted against one tile while it is in cache

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
  quant::dequantize_row(w.type, w.row(r), out, w.cols);
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
