#include "runtime/fused_matvec.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {

namespace {

// kernels::matmul's row grain: a multiple of every kernel's row tile.
constexpr int64_t kRowGrain = 16;
// Smallest chunk handed out: long enough to stream as one sequential read and to make the
// atomic that hands it out negligible.
constexpr size_t kMinChunkBytes = 32 * 1024;

}  // namespace

void QuantizedRow::prepare(const float* x, int64_t cols,
                           std::initializer_list<const kernels::WeightMatrix*> weights) {
  const kernels::KernelSet& ks = kernels::active();
  x_ = x;
  cols_ = cols;
  has_q8_0_ = has_q8_k_ = false;
  for (const kernels::WeightMatrix* w : weights) {
    if (w->cols != cols) fail("fused matvec: weight with {} columns for a row of {}", w->cols, cols);
    const kernels::ActType act = kernels::act_type(w->type);
    bool& done = act == kernels::ActType::Q8_0 ? has_q8_0_ : has_q8_k_;
    if (act == kernels::ActType::F32 || done) continue;
    std::vector<uint8_t>& buf = act == kernels::ActType::Q8_0 ? q8_0_ : q8_k_;
    buf.resize(kernels::act_row_bytes(w->type, cols));
    ks.quantize_activations(w->type, x, cols, buf.data());
    done = true;
  }
}

const void* QuantizedRow::for_weight(const kernels::WeightMatrix& w) const {
  switch (kernels::act_type(w.type)) {
    case kernels::ActType::F32:
      return x_;
    case kernels::ActType::Q8_0:
      if (!has_q8_0_) break;
      return q8_0_.data();
    case kernels::ActType::Q8_K:
      if (!has_q8_k_) break;
      return q8_k_.data();
  }
  fail("fused matvec: the activation row was not prepared for this weight format");
}

bool has_matvec_kernel(const kernels::WeightMatrix& w) { return kernels::supports(w.type); }

void matvec_rows(const kernels::WeightMatrix& w, const QuantizedRow& x, int64_t row_begin,
                 int64_t row_end, float* y) {
  kernels::matmul_rows(kernels::active(), w, row_begin, row_end, x.for_weight(w), 0, 1, y, 0);
}

void run_row_segments(std::span<const RowSegment> segments, ThreadPool& pool) {
  if (pool.size() == 1) {
    for (const RowSegment& s : segments) s.call(s.obj, 0, s.rows);
    return;
  }
  // The segments side by side in one index space, each starting at a multiple of the grain.
  constexpr size_t kMaxSegments = 8;
  if (segments.size() > kMaxSegments) fail("fused matvec: {} segments (at most {})", segments.size(), kMaxSegments);
  int64_t offsets[kMaxSegments + 1];
  int64_t total = 0;
  size_t widest_row = 1;
  for (size_t i = 0; i < segments.size(); ++i) {
    offsets[i] = total;
    total += (segments[i].rows + kRowGrain - 1) / kRowGrain * kRowGrain;
    widest_row = std::max(widest_row, segments[i].bytes_per_row);
  }
  offsets[segments.size()] = total;
  const auto min_chunk = static_cast<int64_t>(kMinChunkBytes / widest_row);
  pool.parallel_for_stealing(total, kRowGrain, min_chunk, [&](int64_t begin, int64_t end) {
    for (size_t i = 0; i < segments.size(); ++i) {
      const int64_t b = std::max(begin, offsets[i]) - offsets[i];
      const int64_t e = std::min({end, offsets[i + 1], offsets[i] + segments[i].rows}) - offsets[i];
      if (b < e) segments[i].call(segments[i].obj, b, e);
    }
  });
}

void fused_matvec(const kernels::WeightMatrix& w, const float* x, float* y, ThreadPool& pool) {
  if (!has_matvec_kernel(w)) {
    kernels::matmul(w, x, 1, y, pool);
    return;
  }
  QuantizedRow row;
  row.prepare(x, w.cols, {&w});
  auto compute = [&](int64_t b, int64_t e) { matvec_rows(w, row, b, e, y); };
  const RowSegment segment = RowSegment::of(w.rows, w.row_stride(), compute);
  run_row_segments({&segment, 1}, pool);
}

}  // namespace edgellm::runtime
