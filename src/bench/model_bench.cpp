#include "bench/model_bench.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "model/footprint.h"
#include "model/model.h"
#include "runtime/session.h"

namespace edgellm::bench {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (int32_t& t : tokens) t = pick(rng);
  return tokens;
}

double seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// "VmHWM:   123 kB" style fields of /proc/self/status, in bytes (0 when unreadable).
size_t proc_status_bytes(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':')
      return static_cast<size_t>(std::stoull(line.substr(field.size() + 1))) * 1024;
  return 0;
}

// Untimed context before a test: `depth` tokens, or the short decode prompt.
int64_t context_before(const BenchTest& t) {
  return t.depth > 0 ? t.depth : t.kind == TestKind::Decode ? kDecodePromptTokens : 0;
}

}  // namespace

std::string BenchTest::name() const {
  const std::string base = fmt::format("{}{}", kind == TestKind::Prefill ? "pp" : "tg", n_tokens);
  return depth > 0 ? fmt::format("{}@d{}", base, depth) : base;
}

double BenchSamples::mean_of(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

SteadyFraction steady_fraction(const std::vector<double>& fractions, const std::vector<double>& best_gbps,
                               const std::vector<double>& mean_gbps, double tolerance) {
  const size_t n = fractions.size();
  if (best_gbps.size() != n + 1 || mean_gbps.size() != n + 1 || tolerance < 0.0)
    fail("steady_fraction: {} repetitions need {} probes of each kind (have {} / {}) and a tolerance >= 0", n, n + 1,
         best_gbps.size(), mean_gbps.size());
  SteadyFraction out;
  double sum = 0.0;
  for (size_t r = 0; r < n; ++r) {
    const double readings[] = {best_gbps[r], mean_gbps[r], best_gbps[r + 1], mean_gbps[r + 1]};
    const auto [lo, hi] = std::minmax_element(std::begin(readings), std::end(readings));
    if (!(*lo > 0.0) || *hi > (1.0 + tolerance) * *lo) continue;
    sum += fractions[r];
    ++out.repetitions;
  }
  if (out.repetitions > 0) out.fraction = sum / out.repetitions;
  return out;
}

double BenchSamples::stddev_of(const std::vector<double>& v) {
  const size_t n = v.size();
  if (n < 2) return 0.0;
  const double m = mean_of(v);
  double sum = 0.0;
  for (double x : v) sum += (x - m) * (x - m);
  return std::sqrt(sum / static_cast<double>(n - 1));
}

ModelCost model_cost(const model::Model& m) {
  ModelCost c;
  c.bytes_per_token = model::active_weight_bytes_per_token(m);
  const gguf::GgufFile& f = m.file();
  const std::string& arch = m.config().arch;
  const int64_t n_expert = f.get_int_or(gguf::arch_key(arch, gguf::key::kExpertCount), 0);
  const int64_t n_used = f.get_int_or(gguf::arch_key(arch, gguf::key::kExpertUsedCount), 0);
  std::map<TensorType, size_t> bytes_by_type;
  for (const gguf::TensorInfo& t : f.tensors()) {
    if (t.dims.size() < 2) continue;  // norms and biases: no multiply-adds worth counting
    bytes_by_type[t.type] += t.n_bytes;
    double elements = static_cast<double>(t.n_elements());
    if (t.name == gguf::tensor::kTokenEmbedding && !m.config().tied_embeddings) {
      continue;  // a table lookup, not a product
    } else if (t.name.ends_with("_exps.weight") && t.dims.size() == 3 && t.dims[2] == n_expert && n_used > 0) {
      elements = elements / static_cast<double>(n_expert) * static_cast<double>(n_used);
    }
    c.weights_per_token += elements;
    if (t.name == gguf::tensor::kOutput || t.name == gguf::tensor::kTokenEmbedding) c.output_weights += elements;
  }
  const auto dominant = std::max_element(bytes_by_type.begin(), bytes_by_type.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; });
  if (dominant != bytes_by_type.end()) {
    c.dominant_type = std::string(type_name(dominant->first));
    c.float_weights = is_float_type(dominant->first);
  }
  return c;
}

double prefill_ops_per_token(const ModelCost& cost, int64_t n_tokens) {
  const double rest = cost.weights_per_token - cost.output_weights;
  return 2.0 * (rest + cost.output_weights / static_cast<double>(std::max<int64_t>(n_tokens, 1)));
}

int64_t bench_context_size(const std::vector<BenchTest>& tests) {
  int64_t n = 1;
  for (const BenchTest& t : tests) n = std::max(n, context_before(t) + t.n_tokens);
  return n;
}

BenchSamples run_bench_test(runtime::Session& session, const BenchTest& test, int repetitions, int threads,
                            const std::function<void(int)>& between) {
  if (repetitions < 1) fail("repetitions must be at least 1, got {}", repetitions);
  if (threads < 1) fail("threads must be at least 1, got {}", threads);
  if (test.n_tokens < 1 || test.depth < 0) fail("test {} needs at least one token and a depth >= 0", test.name());
  const int64_t before = context_before(test);
  if (before + test.n_tokens > session.n_ctx())
    fail("test {} needs a context of {} positions, the session has {}", test.name(), before + test.n_tokens,
         session.n_ctx());
  const int64_t n_vocab = session.n_vocab();
  const std::vector<int32_t> context = random_tokens(before, n_vocab, 41);
  const std::vector<int32_t> timed = random_tokens(test.n_tokens, n_vocab, 42);

  // Warm-up: touches every weight page and sizes the scratch buffers (a few tokens suffice).
  session.reset();
  session.eval(std::span<const int32_t>(timed.data(), std::min<size_t>(timed.size(), 8)));

  BenchSamples samples;
  for (int r = 0; r < repetitions; ++r) {
    session.reset();
    if (!context.empty()) session.eval(context);  // untimed (run in max_batch pieces)
    if (between) between(r);
    const auto start = Clock::now();
    const double cpu_start = process_cpu_seconds();
    if (test.kind == TestKind::Prefill) {
      session.eval(timed);
    } else {
      for (const int32_t token : timed) session.eval(std::span<const int32_t>(&token, 1));
    }
    const double elapsed = seconds(start);
    const double cpu_per_thread = (process_cpu_seconds() - cpu_start) / threads;
    samples.tokens_per_second.push_back(static_cast<double>(test.n_tokens) / std::max(elapsed, 1e-9));
    samples.cpu_tokens_per_second.push_back(static_cast<double>(test.n_tokens) / std::max(cpu_per_thread, 1e-9));
  }
  if (between) between(repetitions);
  return samples;
}

void prefault_model(const model::Model& m) { m.touch_weights(); }

void reset_peak_rss() {
  // Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
  std::ofstream("/proc/self/clear_refs") << "5";
}

size_t current_rss_bytes() { return proc_status_bytes("VmRSS"); }
size_t peak_rss_bytes() { return proc_status_bytes("VmHWM"); }

}  // namespace edgellm::bench
