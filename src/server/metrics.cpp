#include "server/metrics.h"

#include <fmt/format.h>

namespace edgellm::server {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      token_latency_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      duration_({0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::add_tokens(int64_t prompt, int64_t completion, int64_t cached_prompt) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  completion_tokens_ += static_cast<uint64_t>(completion);
  cached_prompt_tokens_ += static_cast<uint64_t>(cached_prompt);
}

void Metrics::observe_time_to_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.observe(seconds);
}

void Metrics::observe_token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  token_latency_.observe(seconds);
}

void Metrics::observe_request_duration(double seconds) {
  std::lock_guard lock(mutex_);
  duration_.observe(seconds);
}

void Metrics::count_step(int64_t n_tokens) {
  std::lock_guard lock(mutex_);
  ++steps_;
  step_tokens_ += static_cast<uint64_t>(n_tokens);
}

std::string Metrics::render(const SchedulerGauges& g) const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP edgellm_requests_total HTTP requests by endpoint and status code.\n"
         "# TYPE edgellm_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += fmt::format("edgellm_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  const auto counter = [&out](const char* name, const char* help, uint64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  };
  const auto gauge = [&out](const char* name, const char* help, int64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  counter("edgellm_prompt_tokens_total", "Prompt tokens of finished requests.", prompt_tokens_);
  counter("edgellm_completion_tokens_total", "Generated tokens of finished requests.", completion_tokens_);
  counter("edgellm_prompt_tokens_cached_total", "Prompt tokens whose KV was reused from the prefix cache.",
          cached_prompt_tokens_);
  counter("edgellm_batch_steps_total", "Batched forward steps run.", steps_);
  counter("edgellm_batch_step_tokens_total", "Tokens processed by batched forward steps.", step_tokens_);
  ttft_.render(out, "edgellm_time_to_first_token_seconds", "Time from request arrival to its first generated token.");
  token_latency_.render(out, "edgellm_token_latency_seconds", "Time between consecutive generated tokens of a request.");
  duration_.render(out, "edgellm_request_duration_seconds", "Time from request arrival to its last token.");
  gauge("edgellm_queue_depth", "Requests waiting for a slot or KV memory.", g.queue_depth);
  gauge("edgellm_active_slots", "Requests being generated.", g.active_slots);
  gauge("edgellm_max_slots", "Most requests generated at once (--parallel).", g.max_slots);
  gauge("edgellm_kv_blocks_in_use", "KV cache blocks held by requests.", g.kv_blocks_in_use);
  gauge("edgellm_kv_blocks_cached", "KV cache blocks kept for prefix reuse.", g.kv_blocks_cached);
  gauge("edgellm_kv_blocks_total", "KV cache blocks in the pool.", g.kv_blocks_total);
  gauge("edgellm_kv_block_size", "Positions per KV cache block.", g.kv_block_size);
  return out;
}

}  // namespace edgellm::server
