// The one matrix-multiplication interface of the engine: every projection of the forward pass
// goes through matmul(), which runs the SIMD kernels of kernels/simd (kernels.h) for every
// format they cover. Weights are read in their stored format (F32, F16, BF16, Q*_0/1, K-quants,
// IQ4_NL), straight from the mapped file.
//
// Numerics: F32/F16/BF16 weights take the f32 activations as they are. Quantized weights take
// activations quantized to 8 bits per row the way llama.cpp does (Q8_0 blocks for the
// 32-element formats, Q8_K for K-quants), so results match llama.cpp's CPU backend closely and
// differ from the float product of the dequantized weights by that 8-bit rounding.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace edgellm::runtime {
class ThreadPool;
}

namespace edgellm::kernels {

// A row-major weight matrix as stored in GGUF: `rows` rows of `cols` elements each (GGUF dims
// {cols, rows}); row r starts at data + r * row_bytes(type, cols). With `panels` set the same
// bytes hold the 16-row panel layout of panel_layout.h instead (row() and slicing by rows then
// do not apply; dequantize_weight_row does).
struct WeightMatrix {
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  bool panels = false;

  size_t row_stride() const { return row_bytes(type, cols); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride(); }
  bool empty() const { return data == nullptr; }
};

struct KernelSet;

// Rows [row_begin, row_end) of w against n_tokens rows of activations already converted by
// ks.quantize_activations (xq_stride bytes apart): y[t * y_stride + r]. Picks ks's matvec,
// matmul or panel kernel by token count and layout; for panels the range must be whole panels.
void matmul_rows(const KernelSet& ks, const WeightMatrix& w, int64_t row_begin, int64_t row_end,
                 const void* xq, size_t xq_stride, int64_t n_tokens, float* y, size_t y_stride);

// y = x · Wᵀ for a batch of tokens: x holds n_tokens rows of w.cols floats, y receives n_tokens
// rows of w.rows floats (y[t * w.rows + r] = Σ_c w[r, c] · x[t * w.cols + c]).
// Rows of W are split across the pool's threads; results do not depend on the thread count.
void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
            runtime::ThreadPool& pool);

// The same product through the generic path (dequantize each weight row to float, f32 dot with
// the unquantized activations): the reference the SIMD path is tested against.
void matmul_reference(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y,
                      runtime::ThreadPool& pool);

// Dequantizes row r of w into out (w.cols floats).
void dequantize_weight_row(const WeightMatrix& w, int64_t r, float* out);

// Σ a[i]·b[i] with several independent float accumulators (vectorizable without -ffast-math).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace edgellm::kernels
