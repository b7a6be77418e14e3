#include "model/panel_store.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/kernels.h"

namespace edgellm::model {

uint8_t* PanelStore::allocate(size_t n) {
  // Matrices are carved from large arenas rather than mapped one by one: most single matrices of
  // a small model never span an aligned 2 MiB range, so they stayed on 4 KiB pages (Qwen2.5-0.5B:
  // 40% of the repacked bytes on huge pages, decode 62.6 -> 74.7 tokens/s at 1 thread with arenas).
  // At most 1 GiB an arena and no more than the file could fill (untouched pages cost only
  // address space, but a strict overcommit policy counts them).
  constexpr size_t kMaxArenaBytes = size_t{1} << 30, kAlign = 4096;
  n = (n + kAlign - 1) / kAlign * kAlign;
  if (arena_left_ < n) {
    // Each tensor's copy is padded to kAlign at most once.
    const size_t fill_bound = file_.bytes().size() + file_.tensors().size() * kAlign;
    arenas_.emplace_back(std::max(std::min(kMaxArenaBytes, fill_bound), n));
    arena_next_ = arenas_.back().data();
    arena_left_ = arenas_.back().size();
  }
  uint8_t* out = arena_next_;
  arena_next_ += n;
  arena_left_ -= n;
  return out;
}

namespace {

// Runs share(begin, end) over [0, units) split among the cores, ~4 MB of `bytes` a core at
// least: most of the time of a copy into fresh memory goes to the kernel providing zeroed
// pages, which parallelizes like the copy itself.
template <class Share>
void on_all_cores(int64_t units, size_t bytes, const Share& share) {
  const int64_t workers =
      std::min<int64_t>({static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency())), units,
                         static_cast<int64_t>(bytes >> 22) + 1});
  const auto run = [&](int64_t i) { share(units * i / workers, units * (i + 1) / workers); };
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < workers; ++i) threads.emplace_back(run, i);
  run(0);
  for (std::thread& t : threads) t.join();
}

void pack_parallel(const kernels::WeightMatrix& m, uint8_t* dst) {
  on_all_cores(m.rows / kernels::kPanelRows, m.row_stride() * static_cast<size_t>(m.rows),
               [&](int64_t begin, int64_t end) { kernels::pack_panels(m.type, m.data, m.cols, begin, end, dst); });
}

void copy_parallel(const uint8_t* src, size_t n, uint8_t* dst) {
  constexpr size_t kUnit = 4096;
  on_all_cores(static_cast<int64_t>((n + kUnit - 1) / kUnit), n, [&](int64_t begin, int64_t end) {
    const size_t b = static_cast<size_t>(begin) * kUnit, e = std::min(n, static_cast<size_t>(end) * kUnit);
    std::memcpy(dst + b, src + b, e - b);
  });
}

}  // namespace

bool PanelStore::eligible(const kernels::WeightMatrix& m) const {
  return enabled_ && !m.panels && kernels::can_use_panels(m.type, m.rows, m.cols) &&
         kernels::active().has_panel_kernels(m.type) && !streams_faster_in_rows(m.type);
}

bool PanelStore::streams_faster_in_rows(TensorType type) {
  // Q6_K panels halve the prefill work per byte but one panel stream reads DRAM slower than 16
  // row streams (simd_bench pool_matvec 1 thread: panels 0.62-0.68, rows 0.86-1.0 of the read
  // bound); decode is what a K-quant mixture is chosen for. Whole model, 1 thread, quiet,
  // 2 alternating rounds, panels -> rows: Qwen2.5-0.5B Q4_K_M decode 0.82-0.83 -> 0.84-0.87,
  // prefill 0.79-0.83 -> 0.70-0.73 of the int8 peak; Llama-3.2-1B Q4_K_M decode 0.80-0.82 ->
  // 0.84-0.86, prefill 0.87 -> 0.75; DeepSeek-V2-Lite Q4_K_M decode 0.78 -> 0.86.
  return type == TensorType::Q6_K;
}

template <class Fill>
uint8_t* PanelStore::take_over(const uint8_t* src, size_t n, const Fill& fill) {
  const auto file = file_.bytes();
  if (!enabled_ || src < file.data() || src + n > file.data() + file.size()) return nullptr;
  uint8_t* dst = allocate(n);
  fill(dst);
  file_.drop_pages(src, n);
  replaced_.emplace_back(src, src + n);
  bytes_ += n;
  return dst;
}

void PanelStore::repack(kernels::WeightMatrix& m) {
  if (!eligible(m)) {
    relocate(m);
    return;
  }
  const size_t n = m.row_stride() * static_cast<size_t>(m.rows);
  if (uint8_t* dst = take_over(m.data, n, [&](uint8_t* d) { pack_parallel(m, d); })) {
    m.data = dst;
    m.panels = true;
  }
}

void PanelStore::relocate(kernels::WeightMatrix& m) {
  if (m.panels) return;
  const size_t n = m.row_stride() * static_cast<size_t>(m.rows);
  if (uint8_t* dst = take_over(m.data, n, [&](uint8_t* d) { copy_parallel(m.data, n, d); })) m.data = dst;
}

void PanelStore::repack(std::vector<kernels::WeightMatrix>& stacked) {
  if (stacked.empty() || !enabled_ || stacked.front().panels) return;
  const size_t each = stacked.front().row_stride() * static_cast<size_t>(stacked.front().rows);
  for (size_t i = 1; i < stacked.size(); ++i)
    if (stacked[i].data != stacked[0].data + i * each) fail("repack: stacked matrices are not consecutive");
  const uint8_t* src = stacked.front().data;
  const size_t n = each * stacked.size();
  const bool panels = eligible(stacked.front());
  uint8_t* dst = take_over(src, n, [&](uint8_t* d) {
    if (panels) {
      for (size_t i = 0; i < stacked.size(); ++i) pack_parallel(stacked[i], d + i * each);
    } else {
      copy_parallel(src, n, d);
    }
  });
  if (dst == nullptr) return;
  for (size_t i = 0; i < stacked.size(); ++i) {
    stacked[i].data = dst + i * each;
    stacked[i].panels = panels;
  }
}

}  // namespace edgellm::model
