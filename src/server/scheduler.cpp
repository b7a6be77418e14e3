#include "server/scheduler.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "model/model.h"
#include "runtime/thread_pool.h"
#include "sampling/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::server {

struct Scheduler::Slot {
  Slot(GenerationRequest r, const Tokenizer& tokenizer)
      : request(std::move(r)),
        stream(std::make_shared<RequestStream>()),
        tokens(request.prompt),
        sampler(request.sampling),
        stop(request.stop),
        decoder(tokenizer) {}

  GenerationRequest request;
  std::shared_ptr<RequestStream> stream;
  runtime::SequenceKv kv;
  std::vector<int32_t> tokens;   // prompt, then every sampled token to feed
  int64_t reserve_left = 0;      // blocks this request may still allocate
  int64_t cached_prompt = 0;     // prompt positions reused from the prefix cache
  int64_t generated = 0;
  Sampler sampler;
  StopMatcher stop;
  StreamDecoder decoder;
  Clock::time_point arrived = Clock::now();
  Clock::time_point last_token;

  int64_t n_prompt() const { return static_cast<int64_t>(request.prompt.size()); }
  int64_t pending() const { return static_cast<int64_t>(tokens.size()) - kv.n_past; }
  // Positions this request can ever occupy.
  int64_t max_positions(int64_t n_ctx) const {
    return std::min(n_ctx, n_prompt() + request.max_tokens);
  }
};

namespace {

int64_t pool_blocks(const SchedulerOptions& o) {
  if (o.parallel <= 0) fail("--parallel {} must be positive", o.parallel);
  if (o.n_ctx <= 1) fail("context size {} is too small", o.n_ctx);
  if (o.block_size <= 0) fail("KV block size {} must be positive", o.block_size);
  const int64_t positions = o.kv_positions > 0 ? o.kv_positions : o.parallel * o.n_ctx;
  return (positions + o.block_size - 1) / o.block_size;
}

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

Scheduler::Scheduler(const model::Model& model, const Tokenizer& tokenizer, runtime::ThreadPool& pool,
                     SchedulerOptions options, Metrics& metrics)
    : model_(model),
      tokenizer_(tokenizer),
      options_(options),
      metrics_(metrics),
      kv_(runtime::BatchForward::kv_shapes(model), pool_blocks(options), options.block_size, options.kv_type),
      forward_(model, kv_, pool, options.n_ctx, options.batch_invariant) {
  if (options_.max_step_tokens < options_.parallel)
    fail("a step of {} tokens cannot hold one decode token of each of {} slots", options_.max_step_tokens,
         options_.parallel);
  if (options_.prefill_chunk <= 0) fail("prefill chunk {} must be positive", options_.prefill_chunk);
  gauges_.max_slots = options_.parallel;
  gauges_.kv_blocks_total = kv_.n_blocks();
  gauges_.kv_block_size = kv_.block_size();
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() { stop(); }

int64_t Scheduler::blocks_for(int64_t positions) const {
  return (positions + kv_.block_size() - 1) / kv_.block_size();
}

std::shared_ptr<RequestStream> Scheduler::submit(GenerationRequest request) {
  const auto n_prompt = static_cast<int64_t>(request.prompt.size());
  if (n_prompt == 0) fail("the prompt is empty");
  if (n_prompt >= options_.n_ctx)
    fail("the prompt is {} tokens, which does not fit in the context of {} tokens", n_prompt, options_.n_ctx);
  const int64_t n_vocab = model_.config().n_vocab;
  for (int32_t t : request.prompt)
    if (t < 0 || t >= n_vocab) fail("prompt token {} is outside the vocabulary of {} tokens", t, n_vocab);
  if (request.max_tokens <= 0) request.max_tokens = options_.n_ctx - n_prompt;
  auto slot = std::make_unique<Slot>(std::move(request), tokenizer_);  // validates sampling and stop
  if (blocks_for(slot->max_positions(options_.n_ctx)) > kv_.n_blocks())
    fail("the request needs {} KV positions, more than the pool of {} (lower max_tokens or raise --kv-size)",
         slot->max_positions(options_.n_ctx), kv_.n_blocks() * kv_.block_size());
  std::shared_ptr<RequestStream> stream = slot->stream;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) fail("the server is shutting down");
    waiting_.push_back(std::move(slot));
    gauges_.queue_depth = static_cast<int64_t>(waiting_.size());
  }
  cv_.notify_all();
  return stream;
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

SchedulerGauges Scheduler::gauges() const {
  std::lock_guard lock(mutex_);
  return gauges_;
}

// Takes the prompt's cached prefix blocks and checks the request's reservation fits next to
// everyone else's. On false nothing is held and the request keeps waiting.
bool Scheduler::admit(std::unique_ptr<Slot>& slot) {
  const int64_t bs = kv_.block_size();
  const std::vector<int32_t>& prompt = slot->request.prompt;
  // Reuse whole blocks only, and leave at least one prompt token to run (its logits are needed).
  const int64_t reusable = (slot->n_prompt() - 1) / bs;
  uint64_t parent = 0;
  for (int64_t b = 0; b < reusable; ++b) {
    const std::span<const int32_t> block_tokens(prompt.data() + b * bs, static_cast<size_t>(bs));
    const uint64_t hash = runtime::PagedKvPool::chain_hash(parent, block_tokens);
    const int32_t block = kv_.lookup(hash, block_tokens);
    if (block < 0) break;
    slot->kv.blocks.push_back(block);
    slot->kv.block_hashes.push_back(hash);
    parent = hash;
  }
  const int64_t need = blocks_for(slot->max_positions(options_.n_ctx)) - static_cast<int64_t>(slot->kv.blocks.size());
  if (kv_.n_available() - reserved_blocks_ < need) {
    kv_.release_sequence(slot->kv);
    return false;
  }
  slot->kv.n_past = static_cast<int64_t>(slot->kv.blocks.size()) * bs;
  slot->cached_prompt = slot->kv.n_past;
  slot->reserve_left = need;
  reserved_blocks_ += need;
  return true;
}

void Scheduler::loop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !waiting_.empty() || !active_.empty(); });
      if (stopping_ && waiting_.empty() && active_.empty()) return;
      // Cancelled while waiting: nothing is held yet.
      std::erase_if(waiting_, [](const auto& s) { return s->stream->cancelled(); });
      while (static_cast<int>(active_.size()) < options_.parallel && !waiting_.empty()) {
        bool admitted = false;
        try {
          admitted = admit(waiting_.front());
        } catch (const std::exception& e) {  // an internal error fails this request, not the server
          finish(*waiting_.front(), "error", e.what());
          waiting_.pop_front();
          continue;
        }
        if (!admitted) break;
        active_.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
      gauges_.queue_depth = static_cast<int64_t>(waiting_.size());
    }
    try {
      step();
    } catch (const std::exception& e) {  // step() fails its own requests; this is a last resort
      std::fprintf(stderr, "scheduler: %s\n", e.what());
      for (auto& slot : active_)
        if (!slot->tokens.empty()) finish(*slot, "error", e.what());
      active_.clear();
    }
    std::lock_guard lock(mutex_);
    gauges_.active_slots = static_cast<int64_t>(active_.size());
    gauges_.kv_blocks_in_use = kv_.n_in_use();
    gauges_.kv_blocks_cached = kv_.n_cached();
  }
}

void Scheduler::step() {
  // Clients that went away: free their memory before building the step.
  for (auto& slot : active_)
    if (slot->stream->cancelled()) finish(*slot, "cancelled");
  std::erase_if(active_, [](const auto& s) { return s->tokens.empty(); });
  if (active_.empty()) return;

  // Decoding requests first (one token each), then prompt chunks in arrival order.
  std::vector<Slot*> order;
  for (auto& s : active_)
    if (s->kv.n_past >= s->n_prompt()) order.push_back(s.get());
  for (auto& s : active_)
    if (s->kv.n_past < s->n_prompt()) order.push_back(s.get());
  std::vector<runtime::BatchSegment> segments;
  std::vector<Slot*> segment_slots;
  std::vector<int32_t> tokens;
  int64_t budget = options_.max_step_tokens;
  try {
    for (Slot* s : order) {
      const int64_t n = std::min({s->pending(), budget, options_.prefill_chunk});
      if (n <= 0) continue;
      segment_slots.push_back(s);  // before allocating, so a failure below fails this request too
      while (static_cast<int64_t>(s->kv.blocks.size()) * kv_.block_size() < s->kv.n_past + n) {
        s->kv.blocks.push_back(kv_.allocate());
        --s->reserve_left;
        --reserved_blocks_;
      }
      const auto begin = s->tokens.begin() + s->kv.n_past;
      tokens.insert(tokens.end(), begin, begin + n);
      segments.push_back({&s->kv, n, s->kv.n_past + n == static_cast<int64_t>(s->tokens.size())});
      budget -= n;
    }
    if (segments.empty()) return;
    const std::span<const float> logits = forward_.run(tokens, segments);
    metrics_.count_step(static_cast<int64_t>(tokens.size()));
    const int64_t n_vocab = model_.config().n_vocab;
    size_t row = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
      Slot& s = *segment_slots[i];
      publish_full_blocks(s);
      if (!segments[i].want_logits) continue;
      emit_token(s, logits.subspan(row * static_cast<size_t>(n_vocab), static_cast<size_t>(n_vocab)));
      ++row;
    }
  } catch (const std::exception& e) {
    // A failed step fails the requests in it; the server goes on with the others.
    for (Slot* s : segment_slots)
      if (!s->tokens.empty()) finish(*s, "error", e.what());
  }
  std::erase_if(active_, [](const auto& s) { return s->tokens.empty(); });
}

void Scheduler::publish_full_blocks(Slot& s) {
  const int64_t bs = kv_.block_size();
  while (static_cast<int64_t>(s.kv.block_hashes.size()) < s.kv.n_past / bs) {
    const size_t b = s.kv.block_hashes.size();
    const uint64_t parent = b == 0 ? 0 : s.kv.block_hashes[b - 1];
    const std::span<const int32_t> block_tokens(s.tokens.data() + b * static_cast<size_t>(bs), static_cast<size_t>(bs));
    const uint64_t hash = runtime::PagedKvPool::chain_hash(parent, block_tokens);
    kv_.publish(s.kv.blocks[b], hash, block_tokens);
    s.kv.block_hashes.push_back(hash);
  }
}

void Scheduler::emit_token(Slot& s, std::span<const float> logits) {
  const int32_t token = s.sampler.sample(logits);
  s.sampler.accept(token);
  ++s.generated;
  const Clock::time_point now = Clock::now();
  if (s.generated == 1) metrics_.observe_time_to_first_token(seconds_between(s.arrived, now));
  else metrics_.observe_token_latency(seconds_between(s.last_token, now));
  s.last_token = now;

  StreamEvent event;
  event.token = token;
  if (s.request.top_logprobs >= 0) event.logprobs = top_logprobs(logits, token, s.request.top_logprobs);
  if (tokenizer_.is_end_of_generation(token)) {
    finish(s, "stop");
    return;
  }
  StopMatcher::Result r = s.stop.push(s.decoder.push(token));
  event.text = std::move(r.text);
  s.stream->push(std::move(event));
  if (r.stopped) finish(s, "stop");
  else if (s.generated >= s.request.max_tokens || static_cast<int64_t>(s.tokens.size()) >= options_.n_ctx)
    finish(s, "length");
  else s.tokens.push_back(token);
}

void Scheduler::finish(Slot& s, const std::string& reason, const std::string& error) {
  StreamEvent event;
  event.final = true;
  event.finish_reason = reason;
  event.error = error;
  if (reason != "error" && reason != "cancelled" && !s.stop.stopped()) {
    event.text = s.stop.push(s.decoder.flush()).text;
    if (!s.stop.stopped()) event.text += s.stop.flush();
  }
  event.prompt_tokens = s.n_prompt();
  event.completion_tokens = s.generated;
  event.cached_prompt_tokens = s.cached_prompt;
  metrics_.add_tokens(s.n_prompt(), s.generated, s.cached_prompt);
  metrics_.observe_request_duration(seconds_between(s.arrived, Clock::now()));
  s.stream->push(std::move(event));
  reserved_blocks_ -= s.reserve_left;
  s.reserve_left = 0;
  kv_.release_sequence(s.kv);
  s.tokens.clear();  // marks the slot finished
}

}  // namespace edgellm::server
