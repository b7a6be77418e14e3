// Decode-step (one token) products of several weight matrices in one dispatch of the pool.
//
// kernels::matmul() quantizes its input and dispatches the pool once per matrix. A decode step
// of a Llama block multiplies the same normed row by Q, K and V, and the same row by gate and
// up: with one matmul() each, that is eight dispatches per layer, each ending with the threads
// waiting for the slowest one, and the work between them (biases, SwiGLU, residual adds) runs
// on one thread. Here the input is quantized once per activation format, the rows of all the
// matrices of a step form one parallel loop (each thread its own share first, then taking over
// the rest of a slower one: ThreadPool::parallel_for_stealing), and row-wise
// follow-up work runs inside the chunk that produced the rows.
//
// Numerics equal kernels::matmul() for one token: the same quantization of x, the same kernel
// on row ranges whose boundaries are multiples of the same grain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "kernels/matmul.h"

namespace edgellm::runtime {

class ThreadPool;

// One activation row converted once for every format a set of weights wants.
class QuantizedRow {
 public:
  // x: cols floats; must outlive the use of this row (F32-activation weights read it in place).
  void prepare(const float* x, int64_t cols, std::initializer_list<const kernels::WeightMatrix*> weights);
  const void* for_weight(const kernels::WeightMatrix& w) const;

 private:
  const float* x_ = nullptr;
  int64_t cols_ = 0;
  std::vector<uint8_t> q8_0_, q8_k_;
  bool has_q8_0_ = false, has_q8_k_ = false;
};

// Whether the SIMD matvec kernels cover w's format (the fused path needs them).
bool has_matvec_kernel(const kernels::WeightMatrix& w);

// y[r] = row r of w · x for r in [row_begin, row_end); y is indexed by absolute row.
void matvec_rows(const kernels::WeightMatrix& w, const QuantizedRow& x, int64_t row_begin,
                 int64_t row_end, float* y);

// Rows of one matrix (or of matrices sharing their rows, like gate and up) in a fused dispatch:
// compute(begin, end) produces rows [begin, end) and any row-wise follow-up of them.
struct RowSegment {
  int64_t rows = 0;
  size_t bytes_per_row = 0;  // weight bytes one row reads (sizes the chunks)
  void* obj = nullptr;
  void (*call)(void* obj, int64_t begin, int64_t end) = nullptr;

  template <class F>
  static RowSegment of(int64_t rows, size_t bytes_per_row, F& compute) {
    return {rows, bytes_per_row, &compute,
            [](void* o, int64_t b, int64_t e) { (*static_cast<F*>(o))(b, e); }};
  }
};

// Runs every segment's rows in one parallel loop. Chunk boundaries inside a segment are
// multiples of 16 rows (kernels::matmul's grain), so results do not depend on the split.
void run_row_segments(std::span<const RowSegment> segments, ThreadPool& pool);

// y = w · x for one token through the fused path (one segment).
void fused_matvec(const kernels::WeightMatrix& w, const float* x, float* y, ThreadPool& pool);

}  // namespace edgellm::runtime
