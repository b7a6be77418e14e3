// What the scheduler hands back for one request: a thread-safe queue of events that the HTTP
// handler drains (one event per generated token, then a final one), plus a cancel flag the
// handler sets when its client goes away.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace edgellm::server {

struct StreamEvent {
  std::string text;   // generated text that is safe to send now (may be empty)
  int32_t token = -1; // the generated token (-1 on the final event)
  std::optional<TokenLogprobs> logprobs;
  bool final = false;
  // On the final event: "stop" (end-of-generation token or stop string), "length" (max_tokens
  // or context), or "error" with `error` set.
  std::string finish_reason;
  std::string error;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens whose KV came from the prefix cache
};

class RequestStream {
 public:
  void push(StreamEvent event) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }

  // Everything queued, waiting up to `timeout` for at least one event.
  std::vector<StreamEvent> pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [this] { return !events_.empty(); });
    std::vector<StreamEvent> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
  }

  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace edgellm::server
