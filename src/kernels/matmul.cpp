// kernels::matmul: the SIMD kernels of kernels/simd behind the one matmul interface.
//
// Per call: the activation rows are converted once into the format the weight type's dot
// product wants (Q8_0 blocks for the 32-element formats, Q8_K for K-quants, nothing for F32),
// into a buffer owned by the calling thread and reused across calls; then the weight rows are
// split over the pool's threads in chunks aligned to the kernels' row tiles. One token uses
// the matvec kernel, a batch the tiled matmul kernel, which reads each weight block once per
// tile of tokens. Types without SIMD kernels fall back to dequantize-and-dot in float.
//
// Thread-count independence: every output element is computed by one kernel call whose
// arithmetic depends only on its row and token (the kernels keep one accumulator per (row,
// token)); chunk boundaries are multiples of kRowGrain, so a row's tile never depends on how
// many threads split the matrix.
#include "kernels/matmul.h"

#include <algorithm>
#include <bit>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"
#include "kernels/panel_layout.h"
#include "kernels/quant/quant.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"

namespace edgellm::kernels {

namespace {

constexpr int64_t kRowTile = 8;     // generic path: weight rows dequantized together
constexpr int64_t kTokenTile = 32;  // generic path: tokens dotted against one tile

// Rows per work chunk of the SIMD path: a multiple of every kernel's row tile (<= 4), and
// large enough that a chunk's rows stream as one long sequential read.
constexpr int64_t kRowGrain = 16;
// Prefill: tokens whose activations stay in L2 while a thread's rows stream past them (a
// 4864-column Q8_0 activation row is 5.5 KB; 128 of them 700 KB). The kernel walks its rows in
// register tiles (or repacked 16-row panels) and, for each, every token of the block.
constexpr int64_t kTokenBlock = 128;

// The calling thread's activation buffer, grown to the largest request and then reused, so
// steady-state decoding allocates nothing. Workers only read it while the caller waits in
// pool.run(), so one buffer per calling thread suffices (and a matmul called from inside a
// worker of another pool uses that worker's own buffer).
std::vector<uint8_t>& activation_buffer(size_t bytes) {
  thread_local std::vector<uint8_t> buffer;
  if (buffer.size() < bytes) buffer.resize(bytes);
  return buffer;
}

void bf16_row_to_f32(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = std::bit_cast<float>(static_cast<uint32_t>(in[i]) << 16);
}

// Dequantize-and-dot fallback for weight types without SIMD kernels.
void matmul_generic(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                    runtime::ThreadPool& pool) {
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

// Rows [row_begin, row_end) against every token, one token block at a time.
void matmul_rows_blocked(const KernelSet& ks, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                         const uint8_t* xq, size_t xq_stride, int64_t n_tokens, float* y) {
  const auto ys = static_cast<size_t>(w.rows);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t nt = std::min(kTokenBlock, n_tokens - t0);
    matmul_rows(ks, w, row_begin, row_end, xq + static_cast<size_t>(t0) * xq_stride, xq_stride, nt,
                y + static_cast<size_t>(t0) * ys, ys);
  }
}

void matmul_simd(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                 runtime::ThreadPool& pool) {
  const KernelSet& ks = active();
  const uint8_t* xq = nullptr;
  size_t xq_stride = 0;
  if (act_type(w.type) == ActType::F32) {
    // F32 activations are used in place: no copy.
    xq = reinterpret_cast<const uint8_t*>(x);
    xq_stride = static_cast<size_t>(w.cols) * sizeof(float);
  } else {
    xq_stride = act_row_bytes(w.type, w.cols);
    uint8_t* buf = activation_buffer(xq_stride * static_cast<size_t>(n_tokens)).data();
    const auto quantize = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        ks.quantize_activations(w.type, x + t * w.cols, w.cols, buf + static_cast<size_t>(t) * xq_stride);
    };
    // One row is quantized in a microsecond or two: only batches are worth a dispatch.
    if (n_tokens >= 8) {
      pool.parallel_for(n_tokens, 1, quantize);
    } else {
      quantize(0, n_tokens);
    }
    xq = buf;
  }
  pool.parallel_for(w.rows, kRowGrain, [&](int64_t r0, int64_t r1) {
    matmul_rows_blocked(ks, w, r0, r1, xq, xq_stride, n_tokens, y);
  });
}

}  // namespace

void matmul_rows(const KernelSet& ks, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                 const void* xq, size_t xq_stride, int64_t n_tokens, float* y, size_t y_stride) {
  if (w.panels) {
    ks.panel_matmul(w.type, w.data, w.row_stride(), row_begin, row_end, w.cols, xq, xq_stride, n_tokens, y,
                    y_stride);
  } else if (n_tokens == 1) {
    ks.matvec(w.type, w.data, w.row_stride(), row_begin, row_end, w.cols, xq, y);
  } else {
    ks.matmul(w.type, w.data, w.row_stride(), row_begin, row_end, w.cols, xq, xq_stride, n_tokens, y, y_stride);
  }
}

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
  if (w.panels) {
    thread_local std::vector<uint8_t> row;
    row.resize(w.row_stride());
    unpack_panel_row(w.type, w.data, w.cols, r, row.data());
    quant::dequantize_row(w.type, row.data(), out, w.cols);
    return;
  }
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
  if (supports(w.type)) {
    matmul_simd(w, x, n_tokens, y, pool);
  } else {
    matmul_generic(w, x, n_tokens, y, pool);
  }
}

void matmul_reference(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                      runtime::ThreadPool& pool) {
  if (w.data == nullptr || w.rows <= 0 || w.cols <= 0) fail("matmul: empty weight matrix");
  if (n_tokens <= 0) return;
  matmul_generic(w, x, n_tokens, y, pool);
}

}  // namespace edgellm::kernels
