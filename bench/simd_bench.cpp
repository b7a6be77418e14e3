// SIMD kernel microbenchmarks (Google Benchmark), 1 thread:
//   matvec/<level>/<format>: GB/s of weight bytes for a 4096 x 4096 matrix; the benchmark
//     rotates over enough copies (>= 256 MiB in all) that every call streams from DRAM, as
//     decode does. Counter bw_frac = fraction of the read bandwidth measured in the same run.
//   matmul/<level>/<format>: prefill, 64 tokens; GOP/s (2 per weight x token) and the fraction
//     of the int8 peak measured in the same run.
//   matvec_hot/...: the same on a 1024 x 4096 matrix that stays in cache (compute ceiling).
//   The ceilings (kernels/simd/roofline.h) are measured first and printed in the context.
// Over the thread pool with kernels::matmul's row split (1 and 2 threads; time = the slowest
// thread's CPU time inside the kernel, like the ceilings):
//   pool_matvec/<format>/threads:N: decode, 4096 x 4096, DRAM-bound as above; bw_frac against
//     the N-thread read bandwidth.
//   pool_prefill/<format>/tokens:T/threads:N: 2048 x 4096 weights, T tokens in 64-token blocks
//     as kernels::matmul runs them; int8_frac against the N-thread int8 peak.
//   pool_hot/<format>/threads:N: matvec on a cache-resident 1024 x 4096 matrix: compute-bound,
//     so threads:2 / threads:1 is the pool's parallel speed-up.
//   pool_dispatch/threads:N: an empty parallel_for, wall time (the pool's wake-up + join).
//   pool_read/threads:N: the probe's read loop (plain loads) over pool_matvec/q4_0's buffers and row
//     split: on a shared host, run it with --benchmark_repetitions=12
//     --benchmark_enable_random_interleaving=true next to pool_matvec to compare the kernels
//     with what the memory delivered in the same minutes (bw_frac's probe ran once, at start).
//   attention/decode/ctx:C: one decoded token of a Qwen2.5-0.5B-shaped layer (14 query / 2 KV
//     heads of 64) over C cached F16 positions, 1 thread; bw_frac = KV bytes / time against
//     the read bandwidth (the cache of one layer fits in L2/L3, so this can exceed 1).
//   attention/prefill/tokens:512: 512 query tokens of the same layer shape over their causal
//     prefix (positions 0..511), 1 thread; GFLOPs counts 4·head_dim per (query head, visible
//     position), f32_peak_frac against the FP32 FMA peak measured at start (1 thread).
// Rates are per CPU second (Google Benchmark's default), as the ceilings are.
// Run: build/bench/simd_bench [--benchmark_filter=matvec/avx512vnni]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench/fp32_peak.h"
#include "core/fp16.h"
#include "core/huge_page_mapping.h"
#include "kernels/matmul.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/kernels.h"
#include "kernels/simd/roofline.h"
#include "runtime/attention.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace {

using edgellm::TensorType;
namespace k = edgellm::kernels;

constexpr int64_t kRows = 4096, kCols = 4096;
constexpr int64_t kBenchTokenBlock = 128;  // kernels::matmul's kTokenBlock
double g_read_gbs = 0.0;
double g_int8_gops = 0.0;
double g_read_gbs_2t = 0.0;
double g_int8_gops_2t = 0.0;
double g_fp32_gflops = 0.0;  // FP32 FMA peak, 1 thread

const TensorType kFormats[] = {TensorType::Q4_0, TensorType::Q8_0, TensorType::Q4_K,
                               TensorType::Q6_K, TensorType::Q4_1, TensorType::Q5_0,
                               TensorType::Q5_1, TensorType::Q5_K, TensorType::Q2_K,
                               TensorType::Q3_K, TensorType::IQ4_NL, TensorType::F16,
                               TensorType::BF16, TensorType::F32};
// The prefill and thread-pool benchmarks: the panel formats (Q5_0 is most of Qwen2.5-0.5B's
// Q4_K_M file, whose 896-wide rows are not whole K-quant super-blocks) and two K-quants.
const TensorType kMatmulFormats[] = {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K,
                                     TensorType::Q6_K};

// Random bytes with sane fp16 scales: enough for timing (values do not affect the kernels' speed).
std::vector<uint8_t> make_weights(TensorType t, size_t bytes, std::mt19937& rng) {
  std::vector<uint8_t> w(bytes);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  if (t == TensorType::F32) {
    for (size_t i = 0; i + 4 <= bytes; i += 4) {
      const float v = static_cast<float>(rng() % 1000) * 1e-3f;
      std::memcpy(&w[i], &v, 4);
    }
  } else if (t == TensorType::F16 || t == TensorType::BF16) {
    const uint16_t one_tenth = t == TensorType::F16 ? edgellm::fp32_to_fp16(0.1f) : edgellm::fp32_to_bf16(0.1f);
    for (size_t i = 0; i + 2 <= bytes; i += 2) std::memcpy(&w[i], &one_tenth, 2);
  }
  return w;
}

std::vector<float> make_acts(int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  return x;
}

// hot = false: rotate over >= 256 MiB of copies (DRAM-bound, as decode); hot = true: one
// 1024 x 4096 matrix that stays in L2/L3 (the kernel's compute ceiling).
void bm_matvec(benchmark::State& state, const k::KernelSet* ks, TensorType t, bool hot) {
  const size_t stride = edgellm::row_bytes(t, kCols);
  const int64_t rows = hot ? 1024 : kRows;
  const size_t matrix = stride * static_cast<size_t>(rows);
  const size_t copies = hot ? 1 : std::max<size_t>(2, (size_t{256} << 20) / matrix + 1);
  std::mt19937 rng(1);
  const auto w = make_weights(t, matrix * copies, rng);
  const auto x = make_acts(kCols);
  std::vector<uint8_t> xq(k::act_row_bytes(t, kCols));
  ks->quantize_activations(t, x.data(), kCols, xq.data());
  std::vector<float> y(kRows);
  size_t c = 0;
  for (auto _ : state) {
    ks->matvec(t, w.data() + matrix * c, stride, 0, rows, kCols, xq.data(), y.data());
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * matrix));
  const double gbs = static_cast<double>(state.iterations() * matrix) / 1e9;
  state.counters["GBps"] = benchmark::Counter(gbs, benchmark::Counter::kIsRate);
  state.counters["bw_frac"] =
      benchmark::Counter(gbs / g_read_gbs, benchmark::Counter::kIsRate);
}

void bm_matmul(benchmark::State& state, const k::KernelSet* ks, TensorType t) {
  constexpr int64_t kTokens = 64;
  const size_t stride = edgellm::row_bytes(t, kCols);
  std::mt19937 rng(2);
  const auto w = make_weights(t, stride * kRows, rng);
  const auto x = make_acts(kCols * kTokens);
  const size_t ab = k::act_row_bytes(t, kCols);
  std::vector<uint8_t> xq(ab * kTokens);
  for (int64_t i = 0; i < kTokens; ++i)
    ks->quantize_activations(t, x.data() + i * kCols, kCols, xq.data() + ab * static_cast<size_t>(i));
  std::vector<float> y(static_cast<size_t>(kRows * kTokens));
  for (auto _ : state) {
    ks->matmul(t, w.data(), stride, 0, kRows, kCols, xq.data(), ab, kTokens, y.data(), kRows);
    benchmark::DoNotOptimize(y.data());
  }
  const double gops = 2.0 * kRows * kCols * kTokens * static_cast<double>(state.iterations()) / 1e9;
  state.counters["GOPs"] = benchmark::Counter(gops, benchmark::Counter::kIsRate);
  state.counters["int8_frac"] = benchmark::Counter(gops / g_int8_gops, benchmark::Counter::kIsRate);
}

// The plain read loop over the same rotation of buffers as matvec (mean, not best-of, so it is
// comparable with the kernels' means on a busy machine).
void bm_read(benchmark::State& state) {
  constexpr size_t kBuffer = size_t{8} << 20;
  constexpr size_t kCopies = 48;  // 384 MiB
  std::vector<uint8_t> buf(kBuffer * kCopies, 1);
  size_t c = 0;
  uint64_t sink = 0;
  for (auto _ : state) {
    sink += k::read_sum(buf.data() + kBuffer * c, kBuffer);
    benchmark::DoNotOptimize(sink);
    c = (c + 1) % kCopies;
  }
  const double gbs = static_cast<double>(state.iterations() * kBuffer) / 1e9;
  state.counters["GBps"] = benchmark::Counter(gbs, benchmark::Counter::kIsRate);
  state.counters["bw_frac"] = benchmark::Counter(gbs / g_read_gbs, benchmark::Counter::kIsRate);
}

// `copies` consecutive copies of one random weight matrix (values do not affect the speed), on
// huge pages like a loaded model's repacked weights (and the read-bandwidth probe).
edgellm::core::HugePageMapping make_copies(TensorType t, int64_t rows, int64_t cols, size_t copies) {
  const size_t matrix = edgellm::row_bytes(t, cols) * static_cast<size_t>(rows);
  edgellm::core::HugePageMapping w(matrix * copies);
  std::mt19937 rng(9);
  const auto src = make_weights(t, matrix, rng);
  for (size_t c = 0; c < copies; ++c) std::memcpy(w.data() + matrix * c, src.data(), matrix);
  return w;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Runs the kernel over the pool's threads with kernels::matmul's row split and reports, as the
// iteration time, the slowest thread's CPU time inside the kernel: on a shared machine a
// thread that is descheduled does not count as slow (the roofline ceilings are timed the same
// way). Dispatch latency is measured separately (pool_dispatch).
template <class Kernel>
void timed_split(benchmark::State& state, edgellm::runtime::ThreadPool& pool, int64_t rows, Kernel kernel) {
  std::vector<double> seconds(static_cast<size_t>(pool.size()));
  pool.run([&](int i, int n) {
    const int64_t grains = (rows + 15) / 16;
    const int64_t r0 = std::min(rows, grains * i / n * 16), r1 = std::min(rows, grains * (i + 1) / n * 16);
    const double start = thread_cpu_seconds();
    if (r0 < r1) kernel(r0, r1);
    seconds[static_cast<size_t>(i)] = thread_cpu_seconds() - start;
  });
  state.SetIterationTime(*std::max_element(seconds.begin(), seconds.end()));
}

// Rewrites `copies` consecutive rows x kCols matrices into the panel layout; false (the benchmark
// skipped) when the active level has no panel kernels for t.
bool to_panels(benchmark::State& state, TensorType t, int64_t rows, size_t copies, edgellm::core::HugePageMapping& w) {
  if (!k::active().has_panel_kernels(t)) {
    state.SkipWithError("no panel kernels for this type at this level");
    return false;
  }
  const size_t matrix = edgellm::row_bytes(t, kCols) * static_cast<size_t>(rows);
  edgellm::core::HugePageMapping packed(matrix * copies);
  for (size_t c = 0; c < copies; ++c)
    k::pack_panels(t, w.data() + c * matrix, kCols, 0, rows / k::kPanelRows, packed.data() + c * matrix);
  w = std::move(packed);
  return true;
}

void bm_pool_matvec(benchmark::State& state, TensorType t, int threads, bool hot, bool panels) {
  edgellm::runtime::ThreadPool pool(threads);
  const k::KernelSet& ks = k::active();
  const int64_t rows = hot ? 1024 : kRows;
  const size_t stride = edgellm::row_bytes(t, kCols);
  const size_t matrix = stride * static_cast<size_t>(rows);
  const size_t copies = hot ? 1 : std::max<size_t>(2, (size_t{256} << 20) / matrix + 1);
  auto w = make_copies(t, rows, kCols, copies);
  if (panels && !to_panels(state, t, rows, copies, w)) return;
  const auto x = make_acts(kCols);
  std::vector<uint8_t> xq(k::act_row_bytes(t, kCols));
  ks.quantize_activations(t, x.data(), kCols, xq.data());
  std::vector<float> y(static_cast<size_t>(rows));
  size_t c = 0;
  for (auto _ : state) {
    const uint8_t* wc = w.data() + matrix * c;
    timed_split(state, pool, rows, [&](int64_t r0, int64_t r1) {
      if (panels) {
        ks.panel_matmul(t, wc, stride, r0, r1, kCols, xq.data(), 0, 1, y.data(), 0);
      } else {
        ks.matvec(t, wc, stride, r0, r1, kCols, xq.data(), y.data());
      }
    });
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  const double gbs = static_cast<double>(state.iterations() * matrix) / 1e9;
  state.counters["GBps"] = benchmark::Counter(gbs, benchmark::Counter::kIsRate);
  if (!hot)
    state.counters["bw_frac"] = benchmark::Counter(gbs / (threads == 1 ? g_read_gbs : g_read_gbs_2t),
                                                   benchmark::Counter::kIsRate);
}

// The plain read loop over the same huge-page rotation and row split as pool_matvec/Q4_0: what
// the memory delivers to these threads at this moment, so that with
// --benchmark_enable_random_interleaving the kernels can be compared with it run for run
// (the probe behind bw_frac is a best-of-5 taken once at start).
void bm_pool_read(benchmark::State& state, int threads) {
  edgellm::runtime::ThreadPool pool(threads);
  const size_t stride = edgellm::row_bytes(TensorType::Q4_0, kCols);
  const size_t matrix = stride * static_cast<size_t>(kRows);
  const size_t copies = std::max<size_t>(2, (size_t{256} << 20) / matrix + 1);
  auto w = make_copies(TensorType::Q4_0, kRows, kCols, copies);
  std::vector<uint64_t> sinks(static_cast<size_t>(threads));
  size_t c = 0;
  for (auto _ : state) {
    const uint8_t* wc = w.data() + matrix * c;
    timed_split(state, pool, kRows, [&](int64_t r0, int64_t r1) {
      sinks[static_cast<size_t>(r0 * threads / kRows)] +=
          k::read_sum(wc + stride * static_cast<size_t>(r0), stride * static_cast<size_t>(r1 - r0) / 256 * 256);
    });
    benchmark::DoNotOptimize(sinks.data());
    c = (c + 1) % copies;
  }
  const double gbs = static_cast<double>(state.iterations() * matrix) / 1e9;
  state.counters["GBps"] = benchmark::Counter(gbs, benchmark::Counter::kIsRate);
  state.counters["bw_frac"] = benchmark::Counter(gbs / (threads == 1 ? g_read_gbs : g_read_gbs_2t),
                                                 benchmark::Counter::kIsRate);
}

// panels: the weights repacked into the panel layout (kernels/panel_layout.h) first.
void bm_pool_prefill(benchmark::State& state, TensorType t, int threads, int64_t tokens, bool panels) {
  edgellm::runtime::ThreadPool pool(threads);
  const k::KernelSet& ks = k::active();
  constexpr int64_t kPrefillRows = 2048;
  const size_t stride = edgellm::row_bytes(t, kCols);
  auto w = make_copies(t, kPrefillRows, kCols, 1);
  if (panels && !to_panels(state, t, kPrefillRows, 1, w)) return;
  const auto x = make_acts(kCols * tokens);
  const size_t ab = k::act_row_bytes(t, kCols);
  std::vector<uint8_t> xq(ab * static_cast<size_t>(tokens));
  for (int64_t i = 0; i < tokens; ++i)
    ks.quantize_activations(t, x.data() + i * kCols, kCols, xq.data() + ab * static_cast<size_t>(i));
  std::vector<float> y(static_cast<size_t>(kPrefillRows * tokens));
  for (auto _ : state) {
    // The token blocking of kernels::matmul: 128 tokens' activations stay in L2 per pass.
    timed_split(state, pool, kPrefillRows, [&](int64_t r0, int64_t r1) {
      for (int64_t t0 = 0; t0 < tokens; t0 += kBenchTokenBlock)
        (ks.*(panels ? &k::KernelSet::panel_matmul : &k::KernelSet::matmul))(
            t, w.data(), stride, r0, r1, kCols, xq.data() + ab * static_cast<size_t>(t0), ab,
            std::min<int64_t>(kBenchTokenBlock, tokens - t0), y.data() + t0 * kPrefillRows, kPrefillRows);
    });
    benchmark::DoNotOptimize(y.data());
  }
  const double gops = 2.0 * kPrefillRows * kCols * static_cast<double>(tokens * state.iterations()) / 1e9;
  state.counters["GOPs"] = benchmark::Counter(gops, benchmark::Counter::kIsRate);
  state.counters["int8_frac"] = benchmark::Counter(gops / (threads == 1 ? g_int8_gops : g_int8_gops_2t),
                                                   benchmark::Counter::kIsRate);
}

void bm_pool_dispatch(benchmark::State& state, int threads) {
  edgellm::runtime::ThreadPool pool(threads);
  int64_t sink = 0;
  for (auto _ : state) {
    pool.parallel_for(threads, 1, [&](int64_t b, int64_t e) { benchmark::DoNotOptimize(sink += e - b); });
  }
}

// A Qwen2.5-0.5B-shaped attention layer (14 query / 2 KV heads of 64) with `positions` F16
// cache rows filled.
constexpr edgellm::runtime::AttentionShape kQwenAttention{14, 2, 64, 64, 0.125f};
edgellm::runtime::KvCache qwen_layer_kv(int64_t positions) {
  namespace rt = edgellm::runtime;
  rt::KvCache kv(positions, {{128, 128}}, rt::KvType::F16);
  const auto rows = make_acts(positions * 128);
  kv.store(0, 0, positions, rows.data(), rows.data());
  return kv;
}

void bm_attention_decode(benchmark::State& state, int64_t ctx) {
  namespace rt = edgellm::runtime;
  const rt::AttentionShape shape = kQwenAttention;
  const rt::KvCache kv = qwen_layer_kv(ctx);
  const auto q = make_acts(14 * 64);
  std::vector<float> out(14 * 64);
  rt::ThreadPool pool(1);
  for (auto _ : state) {
    rt::attention(shape, kv, 0, q.data(), ctx - 1, 1, out.data(), pool);
    benchmark::DoNotOptimize(out.data());
  }
  const double gb = static_cast<double>(ctx) * 2 * 128 * 2 * static_cast<double>(state.iterations()) / 1e9;
  state.counters["bw_frac"] = benchmark::Counter(gb / g_read_gbs, benchmark::Counter::kIsRate);
}

// Prefill-shaped: 512 query tokens over positions 0..511 (causal), Qwen2.5-0.5B layer shape,
// F16 cache, 1 thread. FLOPs: 4·head_dim per (query head, visible position) pair (2·d for the
// score, 2·d for the weighted value sum).
void bm_attention_prefill(benchmark::State& state, int64_t tokens) {
  namespace rt = edgellm::runtime;
  const rt::AttentionShape shape = kQwenAttention;
  const rt::KvCache kv = qwen_layer_kv(tokens);
  const auto q = make_acts(tokens * 14 * 64);
  std::vector<float> out(static_cast<size_t>(tokens * 14 * 64));
  rt::ThreadPool pool(1);
  for (auto _ : state) {
    rt::attention(shape, kv, 0, q.data(), 0, tokens, out.data(), pool);
    benchmark::DoNotOptimize(out.data());
  }
  const double pairs = 14.0 * static_cast<double>(tokens) * static_cast<double>(tokens + 1) / 2;
  const double gflop = 4.0 * 64 * pairs * static_cast<double>(state.iterations()) / 1e9;
  state.counters["GFLOPs"] = benchmark::Counter(gflop, benchmark::Counter::kIsRate);
  state.counters["f32_peak_frac"] = benchmark::Counter(gflop / g_fp32_gflops, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  g_read_gbs = k::measure_read_bandwidth(1);
  g_int8_gops = k::measure_int8_peak(1);
  g_read_gbs_2t = k::measure_read_bandwidth(2);
  g_int8_gops_2t = k::measure_int8_peak(2);
  g_fp32_gflops = edgellm::bench::measure_fp32_peak(1);
  benchmark::AddCustomContext("cpu", k::describe());
  benchmark::AddCustomContext("read_bandwidth_2t_GBps", std::to_string(g_read_gbs_2t));
  benchmark::AddCustomContext("int8_peak_2t_GOPs", std::to_string(g_int8_gops_2t));
  benchmark::AddCustomContext("read_bandwidth_1t_GBps", std::to_string(g_read_gbs));
  benchmark::AddCustomContext("int8_peak_1t_GOPs", std::to_string(g_int8_gops));
  benchmark::AddCustomContext("fp32_peak_1t_GFLOPs", std::to_string(g_fp32_gflops));
  benchmark::RegisterBenchmark("read_stream", bm_read)->Unit(benchmark::kMicrosecond)->MinTime(0.3);
  for (int i = 0; i < k::kNumIsas; ++i) {
    const k::KernelSet* ks = k::for_isa(static_cast<k::Isa>(i));
    if (ks == nullptr) continue;
    const std::string level(k::isa_name(ks->isa));
    for (TensorType t : kFormats) {
      const std::string name(edgellm::type_name(t));
      benchmark::RegisterBenchmark(("matvec/" + level + "/" + name).c_str(), bm_matvec, ks, t, false)
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.3);
      benchmark::RegisterBenchmark(("matvec_hot/" + level + "/" + name).c_str(), bm_matvec, ks, t, true)
          ->Unit(benchmark::kMicrosecond)
          ->MinTime(0.2);
    }
    for (TensorType t : kMatmulFormats) {
      const std::string name(edgellm::type_name(t));
      benchmark::RegisterBenchmark(("matmul/" + level + "/" + name).c_str(), bm_matmul, ks, t)
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.3);
    }
  }
  for (int threads : {1, 2}) {
    const std::string suffix = "/threads:" + std::to_string(threads);
    benchmark::RegisterBenchmark(("pool_read" + suffix).c_str(), bm_pool_read, threads)
        ->Unit(benchmark::kMicrosecond)->MinTime(0.3)->UseManualTime();
    for (TensorType t : kMatmulFormats) {
      const std::string name(edgellm::type_name(t));
      for (bool panels : {false, true}) {
        if (panels && !k::has_panel_layout(t)) continue;
        const std::string layout = panels ? "/panels" : "";
        benchmark::RegisterBenchmark(("pool_matvec/" + name + layout + suffix).c_str(), bm_pool_matvec, t, threads,
                                     false, panels)
            ->Unit(benchmark::kMicrosecond)->MinTime(0.3)->UseManualTime();
        benchmark::RegisterBenchmark(("pool_hot/" + name + layout + suffix).c_str(), bm_pool_matvec, t, threads, true,
                                     panels)
            ->Unit(benchmark::kMicrosecond)->MinTime(0.2)->UseManualTime();
      }
      for (int64_t tokens : {128, 512})
        benchmark::RegisterBenchmark(("pool_prefill/" + name + "/tokens:" + std::to_string(tokens) + suffix).c_str(),
                                     bm_pool_prefill, t, threads, tokens, false)
            ->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseManualTime();
      if (!k::has_panel_layout(t)) continue;
      // Small batches (continuous batching) and prefill, row layout against panels.
      for (int64_t tokens : {1, 4, 8, 16, 128})
        for (bool panels : {false, true})
          benchmark::RegisterBenchmark(("pool_batch/" + name + (panels ? "/panels" : "/rows") + "/tokens:" +
                                        std::to_string(tokens) + suffix).c_str(),
                                       bm_pool_prefill, t, threads, tokens, panels)
              ->Unit(benchmark::kMillisecond)->MinTime(0.3)->UseManualTime();
    }
    benchmark::RegisterBenchmark(("pool_dispatch" + suffix).c_str(), bm_pool_dispatch, threads)
        ->Unit(benchmark::kMicrosecond)->MinTime(0.1)->UseRealTime();
  }
  for (int64_t ctx : {512, 2048, 4096})
    benchmark::RegisterBenchmark(("attention/decode/ctx:" + std::to_string(ctx)).c_str(), bm_attention_decode, ctx)
        ->Unit(benchmark::kMicrosecond)->MinTime(0.2);
  benchmark::RegisterBenchmark("attention/prefill/tokens:512", bm_attention_prefill, 512)
      ->Unit(benchmark::kMillisecond)->MinTime(0.3);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
