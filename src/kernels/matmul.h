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
// {cols, rows}); row r starts at data + r * row_bytes(type, cols).
struct WeightMatrix {
  TensorType type = TensorType::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;

  size_t row_stride() const { return row_bytes(type, cols); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride(); }
  bool empty() const { return data == nullptr; }
};

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
