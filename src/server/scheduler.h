// Continuous batching. One thread owns the model and runs steps; each step advances every
// active request together in one batched forward pass (runtime::BatchForward):
//   - requests that are decoding contribute their one next token;
//   - requests still reading their prompt contribute a chunk of it (at most prefill_chunk tokens,
//     and the step at most max_step_tokens), so a long prompt is spread over several steps
//     interleaved with everyone else's decoding instead of stalling them;
//   - waiting requests join between steps when a slot is free and the KV pool can hold them.
// KV memory is one PagedKvPool. A request reserves the blocks it may need (prompt plus
// max_tokens) when admitted, so a running request never runs out of KV memory; a prompt that
// starts like an earlier one reuses that prefix's cached blocks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/batch_forward.h"
#include "runtime/paged_kv.h"
#include "sampling/sampler.h"
#include "server/metrics.h"
#include "server/request_stream.h"

namespace edgellm {
class Tokenizer;
}
namespace edgellm::model {
class Model;
}
namespace edgellm::runtime {
class ThreadPool;
}

namespace edgellm::server {

struct SchedulerOptions {
  int parallel = 4;               // most requests generated at once
  int64_t n_ctx = 4096;           // most positions (prompt + generated) of one request
  int64_t kv_positions = 0;       // size of the shared KV pool; 0: parallel × n_ctx
  int64_t block_size = 16;
  int64_t max_step_tokens = 512;  // tokens per batched step
  int64_t prefill_chunk = 256;    // prompt tokens of one request per step
  runtime::KvType kv_type = runtime::KvType::F16;
  // Bit-identical logits for a request whatever shares its steps (runtime::BatchForward).
  bool batch_invariant = true;
};

struct GenerationRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int64_t max_tokens = 0;  // 0: until the context is full
  std::vector<std::string> stop;
  int top_logprobs = -1;   // -1: no log-probabilities; n >= 0: the chosen token's and the top n
};

class Scheduler {
 public:
  Scheduler(const model::Model& model, const Tokenizer& tokenizer, runtime::ThreadPool& pool,
            SchedulerOptions options, Metrics& metrics);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. Throws edgellm::Error when the request can never run (prompt empty or not
  // shorter than the context, more KV memory than the pool has) or the scheduler is stopping.
  std::shared_ptr<RequestStream> submit(GenerationRequest request);

  // Stops admitting, lets the queued and running requests finish, and joins the thread.
  void stop();

  SchedulerGauges gauges() const;
  int64_t n_ctx() const { return options_.n_ctx; }
  const SchedulerOptions& options() const { return options_; }
  // Token rows of a step are padded to a multiple of this (1: the kernels are batch-invariant).
  int64_t step_row_multiple() const { return forward_.row_multiple(); }

 private:
  struct Slot;
  using Clock = std::chrono::steady_clock;

  void loop();
  bool admit(std::unique_ptr<Slot>& slot);
  void step();
  void emit_token(Slot& slot, std::span<const float> logits);
  void finish(Slot& slot, const std::string& reason, const std::string& error = {});
  void publish_full_blocks(Slot& slot);
  int64_t blocks_for(int64_t positions) const;

  const model::Model& model_;
  const Tokenizer& tokenizer_;
  SchedulerOptions options_;
  Metrics& metrics_;
  runtime::PagedKvPool kv_;
  runtime::BatchForward forward_;

  mutable std::mutex mutex_;  // guards waiting_, stopping_ and the gauge copies
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Slot>> waiting_;
  bool stopping_ = false;
  SchedulerGauges gauges_;

  // Owned by the scheduler thread.
  std::vector<std::unique_ptr<Slot>> active_;
  int64_t reserved_blocks_ = 0;  // blocks admitted requests may still allocate
  std::thread thread_;
};

}  // namespace edgellm::server
