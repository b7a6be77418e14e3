// The measurement loop of `edgellm bench` (llama-bench's pp/tg tests) and the roofline bounds
// its results are compared with:
//   pp<N>: one batched prefill of N tokens into a fresh context;
//   tg<N>: N single-token decode steps after a short untimed prompt.
// Bounds, measured by the caller in the same run with the same thread count:
//   decode  ≤ read bandwidth / weight bytes read per token (active bytes for MoE);
//   prefill ≤ int8 (or FP32, for F32/F16/BF16 weights) peak / (2 × active weights per token).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace edgellm::model {
class Model;
}
namespace edgellm::runtime {
class Session;
}

namespace edgellm::bench {

enum class TestKind { Prefill, Decode };

struct BenchTest {
  TestKind kind = TestKind::Prefill;
  int64_t n_tokens = 0;
  int64_t depth = 0;  // tokens already in the context (prefilled untimed) before the test
  std::string name() const;  // "pp128", "tg64", "tg64@d8192"
};

struct BenchSamples {
  std::vector<double> tokens_per_second;  // wall clock, one per repetition
  // Tokens per second of process CPU time divided by the thread count: what the run would reach
  // with the cores to itself. On a shared, overloaded machine the wall-clock rate drops while
  // this one (like the bounds, which are timed in CPU time) does not; equal on an idle machine.
  std::vector<double> cpu_tokens_per_second;
  double mean() const { return mean_of(tokens_per_second); }
  double stddev() const { return stddev_of(tokens_per_second); }  // sample sd (0 for one sample)
  static double mean_of(const std::vector<double>& v);
  static double stddev_of(const std::vector<double>& v);
};

// What one token costs the model's weights.
struct ModelCost {
  size_t bytes_per_token = 0;      // weight bytes one decode step reads (model/footprint.h)
  double weights_per_token = 0.0;  // weight elements one token multiplies (experts: the used ones)
  double output_weights = 0.0;     // of those, the output projection's (logits), counted once
  bool float_weights = false;      // most weight bytes are F32/F16/BF16 (FP32 peak applies)
  std::string dominant_type;       // the tensor type holding most weight bytes
};
ModelCost model_cost(const model::Model& model);

// Multiply-add ops (2 per weight element) per token of an n-token prompt: a prompt asks for the
// logits of its last token only, so the output projection's products count once, not n times.
double prefill_ops_per_token(const ModelCost& cost, int64_t n_tokens);

// Runs `test` `repetitions` times, each on a fresh (reset) context, after one short untimed
// warm-up. The session's context must hold bench_context_size() positions. Token ids are
// random (fixed seed): speed does not depend on them.
// `threads` is the session's pool size (for the CPU-time rate).
// between(r) runs untimed before repetition r and, with r = repetitions, after the last one
// (the decode tests measure the read bandwidth there, so each repetition has its own bound).
BenchSamples run_bench_test(runtime::Session& session, const BenchTest& test, int repetitions, int threads,
                            const std::function<void(int)>& between = {});

// Decode on a shared host: repetition r ran between bandwidth probes r and r + 1, each with a
// best and a mean pass. When the host's bandwidth flickers within a probe (best 85, mean 55
// GB/s), the best pass overstates what the repetition could draw and its fraction of the bound
// reads low. A repetition is steady when the four readings around it lie within `tolerance` of
// each other (largest <= (1 + tolerance) x smallest): its bound is then known. Given each
// repetition's fraction of its best-pass bound, returns how many were steady and their mean
// fraction (0 when none was).
inline constexpr double kSteadyTolerance = 0.10;
struct SteadyFraction {
  int repetitions = 0;
  double fraction = 0.0;
};
SteadyFraction steady_fraction(const std::vector<double>& fractions, const std::vector<double>& best_gbps,
                               const std::vector<double>& mean_gbps, double tolerance = kSteadyTolerance);

// Context the tests need: the depth plus the prefill, or plus the decode prompt and the decode.
int64_t bench_context_size(const std::vector<BenchTest>& tests);
// Decode tests without a depth start after a prompt of this many tokens.
inline constexpr int64_t kDecodePromptTokens = 16;

// Reads one byte of every page of the mapped model file, so that no timed run pays for page
// faults (MoE decode would otherwise fault in each expert the first time the router picks it).
void prefault_model(const model::Model& model);

// Peak-RSS bookkeeping from /proc/self: resets the high-water mark (so that building a synthetic
// model beforehand does not count) and reads the current and peak resident bytes.
void reset_peak_rss();
size_t current_rss_bytes();
size_t peak_rss_bytes();

}  // namespace edgellm::bench
