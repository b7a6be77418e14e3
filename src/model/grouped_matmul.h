// Several independent products y = x · Wᵀ in one parallel region of the thread pool: the
// selected experts of a MoE layer (gate and up of all of them, then all downs) or the per-head
// matrices of MLA. One kernels::matmul per matrix costs a pool dispatch each (~30 per MoE layer
// in decode) and splits a small 1408 × 2048 expert over the threads on its own; here the rows
// of all matrices are split together, weighted by the bytes (and tokens) each row costs, so a
// decode step pays one dispatch and both threads stream the same number of weight bytes.
//
// Numerics are those of kernels::matmul: activations are quantized per row as the weight type
// wants (once per distinct input, even when several matrices share it), one token uses the
// matvec kernel, a batch the tiled kernel in blocks of 128 tokens, and chunk boundaries are
// multiples of 16 rows of a matrix, so every output equals kernels::matmul's bit for bit and
// does not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/matmul.h"

namespace edgellm::runtime {
class Scratch;
class ThreadPool;
}

namespace edgellm::model {

struct MatmulTask {
  kernels::WeightMatrix w;
  const float* x = nullptr;  // n_tokens rows of w.cols floats, x_stride floats apart
  int64_t x_stride = 0;
  int64_t n_tokens = 0;
  float* y = nullptr;        // n_tokens rows of w.rows floats, y_stride floats apart
  int64_t y_stride = 0;
};

// Bytes of the activation buffer grouped_matmul needs for `tasks`.
size_t grouped_matmul_buffer_bytes(std::span<const MatmulTask> tasks);

// Runs every task (outputs must not overlap inputs). `act_buffer` holds at least
// grouped_matmul_buffer_bytes(tasks) bytes. Weight types without SIMD kernels fall back to one
// kernels::matmul per task.
void grouped_matmul(std::span<const MatmulTask> tasks, uint8_t* act_buffer, runtime::ThreadPool& pool);
// The same with the activation buffer taken from slot `slot` of `scratch` (grown as needed).
void grouped_matmul(std::span<const MatmulTask> tasks, runtime::Scratch& scratch, size_t slot,
                    runtime::ThreadPool& pool);

}  // namespace edgellm::model
