#include "kernels/simd/roofline.h"

#include <algorithm>
#include <barrier>
#include <ctime>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/huge_page_mapping.h"
#include "kernels/simd/kernels.h"

namespace edgellm::kernels {
namespace {

// Per-thread CPU time: on a shared machine a descheduled thread does not count as slow, which
// matches Google Benchmark's default (CPU-time) rates the kernels are reported in.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs fn(thread_index) on `threads` threads started together; returns the slowest thread's
// CPU seconds for its timed part.
template <class Fn>
double run_timed(int threads, Fn fn) {
  std::barrier sync(threads);
  std::vector<double> seconds(static_cast<size_t>(threads), 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      sync.arrive_and_wait();
      const double start = thread_seconds();
      fn(t);
      seconds[static_cast<size_t>(t)] = thread_seconds() - start;
    });
  for (auto& th : pool) th.join();
  return *std::max_element(seconds.begin(), seconds.end());
}

}  // namespace

uint64_t read_sum(const uint8_t* p, size_t bytes, size_t l2_ahead) {
  if (bytes % 256 != 0) fail("read_sum: {} bytes is not a multiple of 256", bytes);
  return active().read_probe(p, bytes, l2_ahead);
}

double measure_read_bandwidth(int threads) { return measure_read_bandwidth_passes(threads).best_gbps; }

ReadBandwidth measure_read_bandwidth_passes(int threads) {
  if (threads < 1) fail("measure_read_bandwidth: need at least one thread, got {}", threads);
  constexpr size_t kBytes = size_t{512} << 20;  // far beyond any L3 here
  const size_t words = kBytes / 8;
  // On huge pages, as the repacked weights are: the bound is what the memory can deliver, not
  // what 4 KiB pages' TLB misses let one core stream (about 0.8 of it here).
  const core::HugePageMapping mapping(kBytes);
  uint64_t* const buffer = reinterpret_cast<uint64_t*>(mapping.data());
  const size_t per = words / static_cast<size_t>(threads) / 32 * 32;  // whole 256-byte steps
  // Each thread first-touches its slice (page placement), then reads it.
  run_timed(threads, [&](int t) {
    std::memset(buffer + per * static_cast<size_t>(t), 1, per * 8);
  });
  std::vector<uint64_t> sinks(static_cast<size_t>(threads));
  // Passes alternate plain loads with loads behind an L2 prefetch 4 KB ahead (as the decode
  // kernels prefetch); the bound is the best pass of either, since a kernel may use both.
  // Measured on Zen 5: prefetching adds ~10% on two cores and nothing on one.
  constexpr int kPasses = 6;
  constexpr size_t kPrefetchAhead = 4096;
  ReadBandwidth result;
  double seconds = 0.0;
  for (int pass = 0; pass < kPasses; ++pass) {
    const double s = run_timed(threads, [&](int t) {
      sinks[static_cast<size_t>(t)] += read_sum(reinterpret_cast<const uint8_t*>(buffer + per * static_cast<size_t>(t)),
                                                per * 8, pass % 2 == 0 ? 0 : kPrefetchAhead);
    });
    seconds += s;
    result.best_gbps = std::max(result.best_gbps, static_cast<double>(per * 8 * static_cast<size_t>(threads)) / s / 1e9);
  }
  result.mean_gbps = static_cast<double>(per * 8 * static_cast<size_t>(threads)) * kPasses / seconds / 1e9;
  volatile uint64_t sink = sinks[0];
  (void)sink;
  return result;
}

double measure_int8_peak(int threads) {
  if (threads < 1) fail("measure_int8_peak: need at least one thread, got {}", threads);
  const auto probe = active().int8_peak_probe;
  constexpr int64_t kIters = 20'000'000;
  probe(kIters / 10);  // warm up (clock ramp)
  std::vector<uint64_t> ops(static_cast<size_t>(threads));
  double best = 0.0;
  for (int pass = 0; pass < 3; ++pass) {
    const double s = run_timed(threads, [&](int t) { ops[static_cast<size_t>(t)] = probe(kIters); });
    best = std::max(best, static_cast<double>(ops[0]) * threads / s / 1e9);
  }
  return best;
}

}  // namespace edgellm::kernels
