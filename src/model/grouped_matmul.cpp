#include "model/grouped_matmul.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/simd/kernels.h"
#include "runtime/scratch.h"
#include "runtime/thread_pool.h"

namespace edgellm::model {

namespace {

using kernels::ActType;

// As in kernels::matmul: chunk boundaries at multiples of 16 rows of a matrix (a multiple of
// every kernel's row tile) and prefill in blocks of 128 tokens.
constexpr int64_t kRowGrain = 16;
constexpr int64_t kTokenBlock = 128;
// Cost of a weight row for the split: its bytes times (tokens + this), i.e. one read of the row
// plus the multiply-adds of its tokens, a read costing about as much as a few tokens' products.
constexpr uint64_t kReadCostInTokens = 3;
// The smallest chunk of the dynamic split, in cost units (bytes × (tokens + kReadCostInTokens)):
// 64 KiB of weights read for one token, so a chunk is a few microseconds of streaming.
constexpr uint64_t kMinChunkCost = (uint64_t{64} << 10) * (1 + kReadCostInTokens);
// The split's unit of cost: 4 KiB of weights read for one token.
constexpr uint64_t kCostGrain = kMinChunkCost / 16;

size_t sz(int64_t n) { return static_cast<size_t>(n); }

// One distinct input to quantize (shared by every task that multiplies it with the same
// activation format).
struct QuantJob {
  TensorType type;
  const float* x;
  int64_t x_stride, n_tokens, cols;
  uint8_t* out;
  size_t out_stride;
};

// A task as the kernels see it.
struct Prepared {
  const uint8_t* xq = nullptr;
  size_t xq_stride = 0;
  uint64_t cost_begin = 0, cost_per_row = 0;
};

void check_task(const MatmulTask& t) {
  if (t.w.empty() || t.w.rows <= 0 || t.w.cols <= 0) fail("grouped matmul: empty weight matrix");
  if (t.n_tokens < 0 || (t.n_tokens > 0 && (t.x == nullptr || t.y == nullptr)))
    fail("grouped matmul: {} tokens without input or output", t.n_tokens);
  if (t.n_tokens > 1 && (t.x_stride < t.w.cols || t.y_stride < t.w.rows))
    fail("grouped matmul: strides {}/{} below the row widths {}/{}", t.x_stride, t.y_stride, t.w.cols, t.w.rows);
}

// Per task: copy into contiguous rows and run kernels::matmul (types without SIMD kernels).
void matmul_each(std::span<const MatmulTask> tasks, runtime::ThreadPool& pool) {
  std::vector<float> x, y;
  for (const MatmulTask& t : tasks) {
    if (t.n_tokens == 0) continue;
    x.resize(sz(t.n_tokens * t.w.cols));
    y.resize(sz(t.n_tokens * t.w.rows));
    for (int64_t i = 0; i < t.n_tokens; ++i)
      std::copy(t.x + i * t.x_stride, t.x + i * t.x_stride + t.w.cols, x.data() + i * t.w.cols);
    kernels::matmul(t.w, x.data(), t.n_tokens, y.data(), pool);
    for (int64_t i = 0; i < t.n_tokens; ++i)
      std::copy(y.data() + i * t.w.rows, y.data() + (i + 1) * t.w.rows, t.y + i * t.y_stride);
  }
}

// The grains [j0, j1) of a task whose start costs fall in [b0, b1).
int64_t first_grain(uint64_t b, uint64_t cost_begin, uint64_t grain_cost, int64_t n_grains) {
  if (b <= cost_begin) return 0;
  const uint64_t j = (b - cost_begin + grain_cost - 1) / grain_cost;
  return static_cast<int64_t>(std::min<uint64_t>(j, static_cast<uint64_t>(n_grains)));
}

void run_rows(const kernels::KernelSet& ks, const MatmulTask& t, const Prepared& p, int64_t r0, int64_t r1) {
  const kernels::WeightMatrix& w = t.w;
  for (int64_t t0 = 0; t0 < t.n_tokens; t0 += kTokenBlock) {
    const int64_t nt = std::min(kTokenBlock, t.n_tokens - t0);
    kernels::matmul_rows(ks, w, r0, r1, p.xq + sz(t0) * p.xq_stride, p.xq_stride, nt, t.y + t0 * t.y_stride,
                         sz(t.y_stride));
  }
}

}  // namespace

size_t grouped_matmul_buffer_bytes(std::span<const MatmulTask> tasks) {
  size_t total = 0;
  for (const MatmulTask& t : tasks)
    if (kernels::supports(t.w.type) && kernels::act_type(t.w.type) != ActType::F32)
      total += kernels::act_row_bytes(t.w.type, t.w.cols) * sz(t.n_tokens);
  return total;
}

void grouped_matmul(std::span<const MatmulTask> tasks, uint8_t* act_buffer, runtime::ThreadPool& pool) {
  bool all_simd = true;
  for (const MatmulTask& t : tasks) {
    check_task(t);
    all_simd = all_simd && kernels::supports(t.w.type);
  }
  if (!all_simd) {
    matmul_each(tasks, pool);
    return;
  }
  const kernels::KernelSet& ks = kernels::active();

  // Inputs: F32 weights read the floats in place; the others share one quantized copy per
  // distinct (input, activation format).
  std::vector<Prepared> prep(tasks.size());
  std::vector<QuantJob> jobs;
  size_t used = 0;
  uint64_t total_cost = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const MatmulTask& t = tasks[i];
    Prepared& p = prep[i];
    const ActType act = kernels::act_type(t.w.type);
    if (act == ActType::F32) {
      p.xq = reinterpret_cast<const uint8_t*>(t.x);
      p.xq_stride = sz(t.x_stride) * sizeof(float);
    } else {
      p.xq_stride = kernels::act_row_bytes(t.w.type, t.w.cols);
      const auto same = std::find_if(jobs.begin(), jobs.end(), [&](const QuantJob& j) {
        return j.x == t.x && j.x_stride == t.x_stride && j.n_tokens == t.n_tokens && j.cols == t.w.cols &&
               kernels::act_type(j.type) == act;
      });
      if (same != jobs.end()) {
        p.xq = same->out;
      } else {
        uint8_t* out = act_buffer + used;
        used += p.xq_stride * sz(t.n_tokens);
        jobs.push_back({t.w.type, t.x, t.x_stride, t.n_tokens, t.w.cols, out, p.xq_stride});
        p.xq = out;
      }
    }
    p.cost_per_row = t.w.row_stride() * (static_cast<uint64_t>(t.n_tokens) + kReadCostInTokens);
    p.cost_begin = total_cost;
    total_cost += t.n_tokens > 0 ? p.cost_per_row * static_cast<uint64_t>(t.w.rows) : 0;
  }
  int64_t quant_rows = 0;
  for (const QuantJob& j : jobs) quant_rows += j.n_tokens;
  if (total_cost == 0) return;

  // The cost space in grains of kCostGrain (coarser if a huge prefill would overflow the
  // split's 32-bit grain indices), dealt out by the pool's stealing split.
  uint64_t unit = kCostGrain;
  if (total_cost / unit >= static_cast<uint64_t>(runtime::ThreadPool::kMaxStealGrains))
    unit = total_cost / static_cast<uint64_t>(runtime::ThreadPool::kMaxStealGrains) + 1;
  const auto n_grains = static_cast<int64_t>((total_cost + unit - 1) / unit);
  const auto min_grains = static_cast<int64_t>(std::max<uint64_t>(kMinChunkCost / unit, 1));
  pool.share_out(n_grains, min_grains);
  pool.run([&](int index, int n_threads) {
    // 1. This thread's share of the activation rows to quantize.
    if (quant_rows > 0) {
      const int64_t q0 = quant_rows * index / n_threads, q1 = quant_rows * (index + 1) / n_threads;
      int64_t offset = 0;
      for (const QuantJob& j : jobs) {
        for (int64_t r = std::max(q0 - offset, int64_t{0}); r < std::min(q1 - offset, j.n_tokens); ++r)
          ks.quantize_activations(j.type, j.x + r * j.x_stride, j.cols, j.out + sz(r) * j.out_stride);
        offset += j.n_tokens;
      }
      pool.barrier();
    }
    // 2. Each thread works through its own contiguous part of the cost space, then takes over
    // what is left of the others' (ThreadPool::parallel_for_stealing): a thread slowed down by
    // the shared host ends up with fewer rows instead of making the others wait, and in the
    // balanced case each thread's chunks are adjacent, so its weight stream runs on. A chunk
    // runs the rows whose cost starts in it.
    pool.work_shares(index, n_threads, min_grains, [&](int64_t g0, int64_t g1) {
      const uint64_t c0 = static_cast<uint64_t>(g0) * unit;
      const uint64_t c1 = std::min(total_cost, static_cast<uint64_t>(g1) * unit);
      for (size_t i = 0; i < tasks.size(); ++i) {
        const MatmulTask& t = tasks[i];
        const Prepared& p = prep[i];
        if (t.n_tokens == 0) continue;
        const int64_t row_grains = (t.w.rows + kRowGrain - 1) / kRowGrain;
        const uint64_t grain_cost = p.cost_per_row * kRowGrain;
        const int64_t j0 = first_grain(c0, p.cost_begin, grain_cost, row_grains);
        const int64_t j1 = first_grain(c1, p.cost_begin, grain_cost, row_grains);
        if (j0 < j1) run_rows(ks, t, p, j0 * kRowGrain, std::min(t.w.rows, j1 * kRowGrain));
      }
    });
  });
}

void grouped_matmul(std::span<const MatmulTask> tasks, runtime::Scratch& scratch, size_t slot,
                    runtime::ThreadPool& pool) {
  const size_t bytes = grouped_matmul_buffer_bytes(tasks);
  grouped_matmul(tasks, reinterpret_cast<uint8_t*>(scratch.get(slot, bytes / sizeof(float) + 1)), pool);
}

}  // namespace edgellm::model
