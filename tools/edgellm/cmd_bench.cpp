// `edgellm bench`: prefill/decode speed as llama-bench measures it, next to the machine's
// roofline bound measured in the same run.
//   edgellm bench -m MODEL.gguf [-p 128,512] [-n 64] [-t 1,2] [-r 3] [-d DEPTH] [--json]
//   edgellm bench --synthetic qwen2-0.5b --type q4_k_m [--synthetic-out FILE] [--generate-only]
//   edgellm bench --roofline [-t 1,2] [--json]
//   edgellm bench --list-synthetic
// For each thread count: read bandwidth, int8 and FP32 peaks with that many threads, then every
// test r times. Decode is bounded by bandwidth / weight bytes read per token (active bytes for
// MoE), prefill by the compute peak / (2 × active weights per token). Output: a markdown table
// on stdout (or one JSON object per line with --json); progress and memory on stderr. Besides
// wall-clock t/s, "cpu t/s" divides tokens by process CPU time per thread, the basis the bounds
// are timed in: the two agree on an idle machine, and only the latter means much on a busy one.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/fp32_peak.h"
#include "bench/model_bench.h"
#include "bench/synthetic_model.h"
#include "commands.h"
#include "core/error.h"
#include "gguf/gguf_names.h"
#include "kernels/simd/kernels.h"
#include "kernels/simd/roofline.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace edgellm::cli {

namespace {

using Json = nlohmann::ordered_json;

struct BenchArgs {
  std::string model;
  std::string synthetic;
  std::string type = "q4_0";
  std::string synthetic_out;
  bool generate_only = false;
  bool list_synthetic = false;
  std::vector<int64_t> prompt = {512};
  std::vector<int64_t> generate = {128};
  std::vector<int> threads;
  int repetitions = 3;
  int64_t depth = 0;
  bool json = false;
  bool roofline = false;
};

struct Bounds {
  double bandwidth_gbps = 0.0;
  double int8_gops = 0.0;
  double fp32_gflops = 0.0;
};

Bounds measure_bounds(int threads) {
  return {kernels::measure_read_bandwidth(threads), kernels::measure_int8_peak(threads),
          bench::measure_fp32_peak(threads)};
}

// The 1-minute load average: on a shared machine, wall-clock speeds drop when it exceeds the
// core count while the bounds (timed in per-thread CPU time) do not.
double load_average() {
  double load[1] = {0.0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

void print_json(const Json& j) {
  fmt::print("{}\n", j.dump(-1, ' ', false, Json::error_handler_t::replace));
  std::fflush(stdout);
}

void run_roofline(const BenchArgs& a) {
  const std::string isa(kernels::isa_name(kernels::active().isa));
  if (!a.json) {
    fmt::print("| isa | threads | read GB/s | int8 GOP/s | fp32 GFLOP/s |\n|---|---:|---:|---:|---:|\n");
  }
  for (const int t : a.threads) {
    const Bounds b = measure_bounds(t);
    if (a.json) {
      print_json(Json{{"test", "roofline"}, {"isa", isa}, {"threads", t}, {"read_bandwidth_gbps", b.bandwidth_gbps},
                      {"int8_peak_gops", b.int8_gops}, {"fp32_peak_gflops", b.fp32_gflops}});
    } else {
      fmt::print("| {} | {} | {:.1f} | {:.0f} | {:.0f} |\n", isa, t, b.bandwidth_gbps, b.int8_gops, b.fp32_gflops);
      std::fflush(stdout);
    }
  }
}

void list_synthetic() {
  fmt::print("| name | arch | shape of | layers | hidden | heads/kv | ffn | experts | vocab |\n"
             "|---|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const bench::SyntheticShape& s : bench::synthetic_shapes()) {
    const std::string experts =
        s.n_expert ? fmt::format("{} top-{} + {} shared, ffn {}", s.n_expert, s.n_expert_used, s.n_expert_shared, s.n_ff_exp) : "-";
    fmt::print("| {} | {} | {} | {} | {} | {}/{} | {} | {} | {} |\n", s.name, s.arch, s.real_model, s.n_layer,
               s.n_embd, s.n_head, s.n_head_kv, s.n_ff, experts, s.n_vocab);
  }
}

// The model file to benchmark: -m, or the synthetic model (written first if needed).
std::string model_path(const BenchArgs& a) {
  if (a.synthetic.empty()) return a.model;
  const bench::SyntheticShape& shape = bench::synthetic_shape(a.synthetic);
  const quantize::QuantScheme scheme = bench::synthetic_scheme(a.type);
  if (!a.synthetic_out.empty()) {
    std::fprintf(stderr, "writing synthetic %s %s to %s\n", std::string(shape.name).c_str(), scheme.name.c_str(),
                 a.synthetic_out.c_str());
    bench::write_synthetic_model(shape, scheme, a.synthetic_out);
    return a.synthetic_out;
  }
  const std::filesystem::path cached = bench::synthetic_cache_path(shape, scheme);
  const bool exists = std::filesystem::exists(cached);
  std::fprintf(stderr, "%s synthetic %s %s at %s\n", exists ? "reusing" : "writing", std::string(shape.name).c_str(),
               scheme.name.c_str(), cached.string().c_str());
  return bench::ensure_synthetic_model(shape, scheme).string();
}

std::string file_type_label(const model::Model& m, const bench::ModelCost& cost) {
  const int64_t ft = m.file().get_int_or(std::string(gguf::key::kFileType), -1);
  for (const char* name : {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M",
                           "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL"})
    if (static_cast<int64_t>(quantize::parse_scheme(name).file_type) == ft) return name;
  return cost.dominant_type;
}

std::vector<bench::BenchTest> tests_of(const BenchArgs& a) {
  std::vector<bench::BenchTest> tests;
  for (const int64_t n : a.prompt)
    if (n > 0) tests.push_back({bench::TestKind::Prefill, n, a.depth});
  for (const int64_t n : a.generate)
    if (n > 0) tests.push_back({bench::TestKind::Decode, n, a.depth});
  return tests;
}

void run_bench(const BenchArgs& a) {
  const std::vector<bench::BenchTest> tests = tests_of(a);
  if (tests.empty() && !a.generate_only) fail("nothing to run: -p and -n are all 0");
  const std::string path = model_path(a);
  if (a.generate_only) return;

  bench::reset_peak_rss();  // writing a synthetic model does not count
  const size_t rss_before = bench::current_rss_bytes();
  const auto model = model::Model::load(path);
  bench::prefault_model(*model);
  const bench::ModelCost cost = bench::model_cost(*model);
  const size_t file_bytes = model->file().bytes().size();
  double params = 0.0;
  for (const auto& t : model->file().tensors()) params += static_cast<double>(t.n_elements());
  const std::string name =
      a.synthetic.empty() ? std::filesystem::path(path).stem().string() : fmt::format("synthetic {}", a.synthetic);
  const std::string type = file_type_label(*model, cost);
  const std::string isa(kernels::isa_name(kernels::active().isa));
  const int64_t n_ctx = bench::bench_context_size(tests);
  int64_t longest_batch = 1;
  for (const auto& t : tests) longest_batch = std::max(longest_batch, t.kind == bench::TestKind::Prefill ? t.n_tokens : 1);

  if (!a.json)
    fmt::print("| model | size | params | type | isa | threads | test | t/s | bound t/s | of bound | cpu t/s | of bound |\n"
               "|---|---:|---:|---|---|---:|---|---:|---:|---:|---:|---:|\n");
  size_t kv_bytes = 0, kv_bytes_per_token = 0, peak = 0;
  for (const int threads : a.threads) {
    const Bounds b = measure_bounds(threads);
    bench::reset_peak_rss();  // the bandwidth probe's buffer is freed and does not count
    std::fprintf(stderr, "threads %d: read %.1f GB/s, int8 %.0f GOP/s, fp32 %.0f GFLOP/s (%s), load average %.2f\n",
                 threads, b.bandwidth_gbps, b.int8_gops, b.fp32_gflops, isa.c_str(), load_average());
    runtime::ThreadPool pool(threads);
    runtime::SessionParams sp;
    sp.n_ctx = n_ctx;
    sp.max_batch = std::max<int64_t>(longest_batch, 512);
    runtime::Session session(*model, sp, pool);
    kv_bytes = session.kv_cache().size_bytes();
    kv_bytes_per_token = session.kv_cache().bytes_per_token();
    // The shared machine's bandwidth drifts within seconds: each decode repetition's bound is the
    // mean of the read bandwidth measured right before and right after it, and the fraction of
    // the bound is the mean of the repetitions' fractions. The bound is the probe's best pass;
    // the same probes' mean pass gives a second, sustained figure (the host's bursts left out).
    // (The probe's buffer is freed before the test and does not count towards peak RSS.)
    const auto bandwidth_now = [&] {
      peak = std::max(peak, bench::peak_rss_bytes());
      const kernels::ReadBandwidth gbps = kernels::measure_read_bandwidth_passes(threads);
      bench::reset_peak_rss();
      return gbps;
    };
    // Prefill likewise: the compute peak (int8, or FP32 for float weights) is probed around
    // every repetition, since on the shared host a probe taken once can land in a slow or a
    // fast minute (2-thread int8 probes of 219-880 GOP/s within one session).
    const auto compute_peak_now = [&] {
      return cost.float_weights ? bench::measure_fp32_peak(threads) : kernels::measure_int8_peak(threads);
    };
    for (const bench::BenchTest& test : tests) {
      const bool prefill = test.kind == bench::TestKind::Prefill;
      std::vector<double> bw_samples, bw_mean_samples, peak_samples;
      std::function<void(int)> between;
      if (prefill) {
        between = [&](int) { peak_samples.push_back(compute_peak_now()); };
      } else {
        between = [&](int) {
          const kernels::ReadBandwidth r = bandwidth_now();
          bw_samples.push_back(r.best_gbps);
          bw_mean_samples.push_back(r.mean_gbps);
        };
      }
      const bench::BenchSamples s = bench::run_bench_test(session, test, a.repetitions, threads, between);
      const double cpu_ts = bench::BenchSamples::mean_of(s.cpu_tokens_per_second);
      const double ops_per_token = std::max(bench::prefill_ops_per_token(cost, test.n_tokens), 1.0);
      const double bytes_per_token = static_cast<double>(std::max<size_t>(cost.bytes_per_token, 1));
      double bw = b.bandwidth_gbps, sustained_fraction = 0.0;
      bench::SteadyFraction steady;
      // Each repetition against the mean of the two probes around it; bound and fraction are
      // the means over the repetitions.
      const std::vector<double>& probes = prefill ? peak_samples : bw_samples;
      const double units_per_token = prefill ? ops_per_token : bytes_per_token;
      const auto bound_around = [&](const std::vector<double>& samples, size_t r) {
        return 0.5 * (samples[r] + samples[r + 1]) * 1e9 / units_per_token;
      };
      std::vector<double> bounds, fractions, sustained_fractions;
      for (size_t r = 0; r < s.tokens_per_second.size(); ++r) {
        bounds.push_back(bound_around(probes, r));
        fractions.push_back(s.tokens_per_second[r] / bounds.back());
        if (!prefill) sustained_fractions.push_back(s.tokens_per_second[r] / bound_around(bw_mean_samples, r));
      }
      const double bound = bench::BenchSamples::mean_of(bounds);
      const double fraction = bench::BenchSamples::mean_of(fractions);
      std::string listed;
      for (size_t i = 0; i < probes.size(); ++i)
        listed += prefill ? fmt::format("{}{:.0f}", i == 0 ? "" : " ", probes[i])
                          : fmt::format("{}{:.1f} ({:.1f})", i == 0 ? "" : " ", bw_samples[i], bw_mean_samples[i]);
      if (prefill) {
        std::fprintf(stderr, "%s: %s peak GOP/s around the repetitions: %s; each repetition against the mean of its two\n",
                     test.name().c_str(), cost.float_weights ? "fp32" : "int8", listed.c_str());
      } else {
        sustained_fraction = bench::BenchSamples::mean_of(sustained_fractions);
        steady = bench::steady_fraction(fractions, bw_samples, bw_mean_samples);
        bw = bound * bytes_per_token / 1e9;
        const std::string steady_text =
            steady.repetitions > 0 ? fmt::format("{:.1f}% of the best pass", 100.0 * steady.fraction) : "none";
        std::fprintf(stderr,
                     "%s: read GB/s around the repetitions, best pass (mean pass): %s; each repetition against the "
                     "mean of its two; %.1f%% of the mean passes; steady (probes around it within %.0f%%): %d of "
                     "%zu, %s\n",
                     test.name().c_str(), listed.c_str(), 100.0 * sustained_fraction, 100.0 * bench::kSteadyTolerance,
                     steady.repetitions, s.tokens_per_second.size(), steady_text.c_str());
      }
      const std::string bound_kind = prefill ? (cost.float_weights ? "fp32_peak" : "int8_peak") : "read_bandwidth";
      if (a.json) {
        peak = std::max(peak, bench::peak_rss_bytes());
        print_json(Json{{"model", name}, {"file", path}, {"arch", model->config().arch}, {"type", type},
                        {"size", file_bytes}, {"params", static_cast<uint64_t>(params)}, {"isa", isa},
                        {"test", test.name()}, {"n_prompt", prefill ? test.n_tokens : 0},
                        {"n_gen", prefill ? 0 : test.n_tokens}, {"n_depth", test.depth}, {"threads", threads},
                        {"repetitions", a.repetitions}, {"avg_ts", s.mean()}, {"stddev_ts", s.stddev()},
                        {"samples_ts", s.tokens_per_second}, {"bound_ts", bound},
                        {"fraction_of_bound", fraction}, {"bound_kind", bound_kind},
                        {"cpu_ts", cpu_ts}, {"cpu_fraction_of_bound", cpu_ts / bound},
                        {"read_bandwidth_gbps", bw}, {"read_bandwidth_samples_gbps", bw_samples},
                        {"read_bandwidth_mean_pass_samples_gbps", bw_mean_samples},
                        {"fraction_of_mean_pass_read", prefill ? Json(nullptr) : Json(sustained_fraction)},
                        {"steady_repetitions", prefill ? Json(nullptr) : Json(steady.repetitions)},
                        {"fraction_of_bound_steady",
                         prefill || steady.repetitions == 0 ? Json(nullptr) : Json(steady.fraction)},
                        {"peak_samples_gops", peak_samples},
                        {"int8_peak_gops", b.int8_gops},
                        {"fp32_peak_gflops", b.fp32_gflops}, {"weight_bytes_per_token", cost.bytes_per_token},
                        {"weights_per_token", cost.weights_per_token}, {"output_weights", cost.output_weights},
                        {"ops_per_token", prefill ? Json(ops_per_token) : Json(nullptr)}, {"kv_bytes", kv_bytes},
                        {"kv_bytes_per_token", kv_bytes_per_token}, {"peak_rss_bytes", peak},
                        {"load_average", load_average()}});
      } else {
        fmt::print("| {} | {:.1f} MiB | {} | {} | {} | {} | {} | {:.2f} ± {:.2f} | {:.2f} | {:.1f}% | {:.2f} | {:.1f}% |\n", name,
                   static_cast<double>(file_bytes) / (1 << 20),
                   params >= 1e9 ? fmt::format("{:.2f} B", params / 1e9) : fmt::format("{:.1f} M", params / 1e6), type, isa, threads, test.name(),
                   s.mean(), s.stddev(), bound, 100.0 * fraction, cpu_ts, 100.0 * cpu_ts / bound);
        std::fflush(stdout);
      }
    }
    peak = std::max(peak, bench::peak_rss_bytes());
  }

  // Weights are mapped from the file, so resident memory should stay near file + KV cache.
  const size_t limit = rss_before + static_cast<size_t>(1.1 * static_cast<double>(file_bytes + kv_bytes));
  const double mib = 1024.0 * 1024.0;
  std::fprintf(stderr,
               "peak RSS %.1f MiB = %.1f MiB before loading + %.1f MiB; model file %.1f MiB + KV cache %.1f MiB "
               "(%zu positions x %zu bytes); limit (+10%%) %.1f MiB: %s\n",
               static_cast<double>(peak) / mib, static_cast<double>(rss_before) / mib,
               static_cast<double>(peak - std::min(peak, rss_before)) / mib, static_cast<double>(file_bytes) / mib,
               static_cast<double>(kv_bytes) / mib, static_cast<size_t>(n_ctx), kv_bytes_per_token,
               static_cast<double>(limit) / mib, peak <= limit ? "ok" : "EXCEEDED");
  if (a.json)
    print_json(Json{{"test", "memory"}, {"model", name}, {"peak_rss_bytes", peak}, {"rss_before_load_bytes", rss_before},
                    {"size", file_bytes}, {"kv_bytes", kv_bytes}, {"kv_bytes_per_token", kv_bytes_per_token},
                    {"n_ctx", n_ctx}, {"rss_limit_bytes", limit}, {"within_limit", peak <= limit}});
}

void check_args(BenchArgs& a) {
  if (a.list_synthetic || a.roofline) return;
  const int sources = static_cast<int>(!a.model.empty()) + static_cast<int>(!a.synthetic.empty());
  if (sources != 1) fail("give exactly one of -m MODEL.gguf and --synthetic NAME (or --roofline)");
  if (a.synthetic.empty() && (!a.synthetic_out.empty() || a.generate_only))
    fail("--synthetic-out and --generate-only need --synthetic NAME");
  if (a.repetitions < 1) fail("-r {} must be at least 1", a.repetitions);
  if (a.depth < 0) fail("-d {} must not be negative", a.depth);
  for (const int64_t n : a.prompt)
    if (n < 0) fail("-p sizes must not be negative (0 skips prefill), got {}", n);
  for (const int64_t n : a.generate)
    if (n < 0) fail("-n sizes must not be negative (0 skips decode), got {}", n);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prefill/decode speed against the machine's roofline bounds");
  cmd->add_option("-m,--model", a->model, "GGUF model file");
  cmd->add_option("--synthetic", a->synthetic, "Benchmark a random-weight model of a real shape (see --list-synthetic)");
  cmd->add_option("--type", a->type, "Quantization of the synthetic model (llama.cpp file type: q4_0 q8_0 q4_k_m q6_k f16 ...)")
      ->capture_default_str();
  cmd->add_option("--synthetic-out", a->synthetic_out, "Write the synthetic model to FILE (instead of the cache) and keep it");
  cmd->add_flag("--generate-only", a->generate_only, "Only write the synthetic model, do not benchmark it");
  cmd->add_flag("--list-synthetic", a->list_synthetic, "List the synthetic model shapes");
  cmd->add_option("-p,--n-prompt", a->prompt, "Prefill test sizes (comma-separated; 0: none)")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("-n,--n-gen", a->generate, "Decode test sizes (comma-separated; 0: none)")->delimiter(',')->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Thread counts (comma-separated; default: all cores)")
      ->delimiter(',')->check(CLI::Range(1, 1024));
  cmd->add_option("-r,--repetitions", a->repetitions, "Repetitions of each test")->capture_default_str();
  cmd->add_option("-d,--depth", a->depth, "Tokens already in the context before each test (prefilled untimed)")
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "One JSON object per result line");
  cmd->add_flag("--roofline", a->roofline, "Only print the machine's read bandwidth and int8/FP32 peaks");
  cmd->callback([a] {
    check_args(*a);
    if (a->threads.empty()) a->threads = {static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
    if (a->list_synthetic) return list_synthetic();
    if (a->roofline) return run_roofline(*a);
    run_bench(*a);
  });
}

const CommandRegistration kRegisterBench(25, add_bench_command);

}  // namespace edgellm::cli
