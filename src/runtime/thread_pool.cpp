#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/error.h"

namespace edgellm::runtime {

namespace {

// How long an idle thread polls before it sleeps: long enough to bridge the gaps between the
// dispatches of one forward pass (norms, RoPE, sampling: tens of microseconds), short enough
// that an idle pool gives its core back quickly on a shared machine. The first polls are a
// tight pause loop (a dispatch usually comes within microseconds); later ones yield the core
// between polls, so that when there are more runnable threads than cores the thread being
// waited for gets to run instead of the poller.
constexpr auto kSpinTime = std::chrono::microseconds(200);
constexpr int kTightPolls = 200;  // a few µs of pause instructions (~20-140 cycles each)

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// Polls ready() until it holds or the spin time is over; returns its last value.
template <class Ready>
bool spin_until(Ready ready) {
  for (int i = 0; i < kTightPolls; ++i) {
    if (ready()) return true;
    cpu_relax();
  }
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::yield();
  }
  return ready();
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  steal_shares_ = std::make_unique<StealShare[]>(static_cast<size_t>(n_threads));
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true);
    generation_.fetch_add(1);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

// Returns false when the pool is stopping. The sleep handshake: a worker announces itself in
// sleepers_ (under the mutex) before it re-checks the generation, and run() bumps the
// generation before it reads sleepers_ (all sequentially consistent), so either the worker
// sees the new generation or run() sees the sleeper and notifies under the mutex.
bool ThreadPool::wait_for_work(uint64_t seen) {
  const auto published = [&] { return generation_.load(std::memory_order_acquire) != seen; };
  if (!spin_until(published)) {
    std::unique_lock<std::mutex> lock(mutex_);
    sleepers_.fetch_add(1);
    wake_cv_.wait(lock, [&] { return generation_.load() != seen; });
    sleepers_.fetch_sub(1);
  }
  return !stopping_.load();
}

void ThreadPool::execute(int index) {
  try {
    job_.call(job_.obj, index, n_threads_);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
    failed_.store(true);
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    if (!wait_for_work(seen)) return;
    seen = generation_.load(std::memory_order_acquire);
    execute(index);
    const auto workers = static_cast<uint64_t>(n_threads_ - 1);
    if ((finished_.fetch_add(1) + 1) % workers == 0 && caller_sleeping_.load()) {  // the job's last
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::run_erased(JobRef job) {
  if (n_threads_ == 1) {
    job.call(job.obj, 0, 1);
    return;
  }
  job_ = job;
  // Written only when set: a store would take the line from the workers, which read it.
  if (failed_.load(std::memory_order_relaxed)) failed_.store(false);
  if (barrier_arrived_.load(std::memory_order_relaxed) != 0) barrier_arrived_.store(0);
  finished_target_ += static_cast<uint64_t>(n_threads_ - 1);
  generation_.fetch_add(1);  // publishes job_ and the resets above to the workers
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_cv_.notify_all();
  }
  execute(0);
  const auto all_done = [&] { return finished_.load(std::memory_order_acquire) == finished_target_; };
  if (!spin_until(all_done)) {
    std::unique_lock<std::mutex> lock(mutex_);
    caller_sleeping_.store(true);
    done_cv_.wait(lock, all_done);
    caller_sleeping_.store(false);
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    error = std::exchange(error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::barrier() {
  if (n_threads_ == 1) return;
  const uint64_t phase = barrier_phase_.load(std::memory_order_acquire);
  if (barrier_arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_threads_) {
    barrier_arrived_.store(0, std::memory_order_relaxed);
    barrier_phase_.store(phase + 1, std::memory_order_release);
    return;
  }
  // Waits are short (threads do equal shares of work), but a descheduled thread on a busy
  // machine can take a time slice: after the spin, yield the core instead of burning it.
  const auto released = [&] {
    return barrier_phase_.load(std::memory_order_acquire) != phase || failed_.load();
  };
  while (!spin_until(released)) std::this_thread::yield();
  if (barrier_phase_.load(std::memory_order_acquire) == phase)
    fail("thread pool barrier abandoned: another thread of the job failed");
}

}  // namespace edgellm::runtime
