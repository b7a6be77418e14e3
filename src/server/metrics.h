// Server counters and histograms, rendered in the Prometheus text exposition format (version
// 0.0.4) by GET /metrics. Thread-safe: HTTP handlers and the scheduler update it concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace edgellm::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // `name`_bucket{le=...}, `name`_sum, `name`_count lines.
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last one is +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// Values read from the scheduler when /metrics is served.
struct SchedulerGauges {
  int64_t queue_depth = 0;
  int64_t active_slots = 0;
  int64_t max_slots = 0;
  int64_t kv_blocks_in_use = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_cached = 0;
  int64_t kv_block_size = 0;
};

class Metrics {
 public:
  Metrics();
  void count_request(const std::string& endpoint, int status);
  void add_tokens(int64_t prompt, int64_t completion, int64_t cached_prompt);
  void observe_time_to_first_token(double seconds);
  void observe_token_latency(double seconds);
  void observe_request_duration(double seconds);
  void count_step(int64_t n_tokens);
  std::string render(const SchedulerGauges& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, completion_tokens_ = 0, cached_prompt_tokens_ = 0;
  uint64_t steps_ = 0, step_tokens_ = 0;
  Histogram ttft_, token_latency_, duration_;
};

}  // namespace edgellm::server
