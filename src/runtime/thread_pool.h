// A persistent pool of worker threads for data-parallel loops (matmuls, attention). The calling
// thread takes part as thread 0, so ThreadPool(1) runs everything inline with no extra thread.
//
// Built for dispatches of a few microseconds (one decode-time matmul): a job is passed by
// reference (no std::function, no allocation per call); idle workers spin briefly on an atomic
// generation counter before they sleep on a condition variable, so back-to-back dispatches of
// a forward pass wake them without a system call, while an idle pool costs no CPU.
// Not reentrant: run() must not be called from inside a job of the same pool.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <functional>  // not used here; kept for files that relied on it (source compatibility)
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace edgellm::runtime {

class ThreadPool {
 public:
  // n_threads <= 0 picks std::thread::hardware_concurrency().
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls job(thread_index, n_threads) once on every thread and waits for all of them. The first
  // exception thrown by any thread is rethrown here after all have finished.
  template <class Job>
  void run(Job&& job) {
    using J = std::remove_reference_t<Job>;
    run_erased(JobRef{const_cast<void*>(static_cast<const void*>(&job)), [](void* obj, int i, int n) {
                        (*static_cast<J*>(obj))(i, n);
                      }});
  }

  // Splits [0, n) into at most size() contiguous chunks whose boundaries are multiples of
  // `grain` (except the end) and calls body(begin, end) for each non-empty chunk. The split
  // depends only on n, grain and size().
  template <class Body>
  void parallel_for(int64_t n, int64_t grain, Body&& body) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int64_t n_grains = (n + grain - 1) / grain;
    const int64_t n_chunks = n_grains < n_threads_ ? n_grains : n_threads_;
    if (n_chunks == 1) {
      body(int64_t{0}, n);
      return;
    }
    run([&](int index, int) {
      if (index >= n_chunks) return;
      const int64_t begin = n_grains * index / n_chunks * grain;
      const int64_t end_grain = n_grains * (index + 1) / n_chunks * grain;
      const int64_t end = end_grain < n ? end_grain : n;
      if (begin < end) body(begin, end);
    });
  }

  // Like parallel_for, but chunks are handed out on demand: a thread takes the next chunk when
  // it finishes one, so a thread that is slowed down (descheduled on a busy machine, or given
  // less memory bandwidth) ends up with fewer rows instead of making the others wait for it.
  // Chunks shrink as the work runs out (a 1/(2 * size()) share of what is left, at least
  // min_chunk); every chunk boundary is a multiple of `grain` (except n).
  template <class Body>
  void parallel_for_dynamic(int64_t n, int64_t grain, int64_t min_chunk, Body&& body) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    min_chunk = (std::max(min_chunk, grain) + grain - 1) / grain * grain;
    if (n_threads_ == 1 || n <= min_chunk) {
      body(int64_t{0}, n);
      return;
    }
    alignas(64) std::atomic<int64_t> next{0};
    const int64_t divisor = 2 * static_cast<int64_t>(n_threads_);
    run([&](int, int) {
      int64_t begin = next.load(std::memory_order_relaxed);
      while (begin < n) {
        const int64_t share = std::max((n - begin) / divisor, min_chunk);
        const int64_t end = std::min(n, begin + (share + grain - 1) / grain * grain);
        if (next.compare_exchange_weak(begin, end, std::memory_order_relaxed)) {
          body(begin, end);
          begin = next.load(std::memory_order_relaxed);
        }
      }
    });
  }

  // Like parallel_for_dynamic (every index once, chunk boundaries multiples of `grain`, chunks of
  // at least min_chunk except one that ends at n, a slowed-down thread ends up with fewer rows),
  // but each thread first works through its own contiguous share, front to back (a quarter of
  // what is left at a time), and only then takes chunks from the back of the others' shares
  // (half of what is left there). In the balanced case no cache line is shared between the
  // threads' chunk claims and each thread's chunks are adjacent, so a weight stream that
  // prefetches past the end of one chunk has prefetched its next. Measured on 2-thread decode
  // (Qwen2.5-0.5B Q4_0, steady ~80 GB/s minute): matmuls of 3.7 MB stream at 64 instead of 59
  // GB/s, of 0.5 MB at 46 instead of 40.
  template <class Body>
  void parallel_for_stealing(int64_t n, int64_t grain, int64_t min_chunk, Body&& body) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    const int64_t n_grains = (n + grain - 1) / grain;
    const int64_t min_grains = std::max<int64_t>(1, (min_chunk + grain - 1) / grain);
    if (n_threads_ == 1 || n_grains < 2 * min_grains) {
      body(int64_t{0}, n);
      return;
    }
    if (n_grains > kMaxStealGrains) {
      parallel_for_dynamic(n, grain, min_chunk, std::forward<Body>(body));
      return;
    }
    share_out(n_grains, min_grains);
    run([&](int index, int count) {
      work_shares(index, count, min_grains, [&](int64_t g0, int64_t g1) { body(g0 * grain, std::min(n, g1 * grain)); });
    });
  }

  // parallel_for_stealing in two parts, for a job that does other work first (grouped matmuls
  // quantize their inputs): share_out() before run() deals [0, n_grains) out to the threads;
  // inside the job every thread calls work_shares(), which hands body(g0, g1) grain ranges
  // until every grain has run once. n_grains at most kMaxStealGrains.
  static constexpr int64_t kMaxStealGrains = 0xffffffff;  // shares pack two 32-bit grain indices
  void share_out(int64_t n_grains, int64_t min_grains) {
    // Shares of at least min_grains each; threads past the last one only take over work.
    const int64_t n_shares = std::max<int64_t>(1, std::min<int64_t>(n_threads_, n_grains / min_grains));
    for (int64_t i = 0; i < n_threads_; ++i) {
      const int64_t lo = i < n_shares ? n_grains * i / n_shares : n_grains;
      const int64_t hi = i < n_shares ? n_grains * (i + 1) / n_shares : n_grains;
      steal_shares_[static_cast<size_t>(i)].span.store(pack_share(lo, hi), std::memory_order_relaxed);
    }
  }
  template <class Body>
  void work_shares(int index, int count, int64_t min_grains, Body&& body) {
    // A claim never leaves less than min_grains behind it: below twice that, it takes all.
    const auto claim = [min_grains](int64_t left, int64_t divisor) {
      return left < 2 * min_grains ? left : std::max(left / divisor, min_grains);
    };
    for (int k = 0; k < count; ++k) {
      const bool own = k == 0;
      std::atomic<uint64_t>& share = steal_shares_[static_cast<size_t>((index + k) % count)].span;
      uint64_t cur = share.load(std::memory_order_relaxed);
      for (;;) {
        const auto front = static_cast<int64_t>(cur & 0xffffffffu), back = static_cast<int64_t>(cur >> 32);
        if (front >= back) break;
        const int64_t take = claim(back - front, own ? 4 : 2);
        const int64_t g0 = own ? front : back - take, g1 = own ? front + take : back;
        if (share.compare_exchange_weak(cur, own ? pack_share(g1, back) : pack_share(front, g0),
                                        std::memory_order_relaxed)) {
          body(g0, g1);
          cur = share.load(std::memory_order_relaxed);
        }
      }
    }
  }

  // Inside a job of run(): returns once every thread of the pool has called it (all threads
  // must call it the same number of times). When another thread's job threw, the waiting
  // threads leave with an exception instead of waiting forever; run() rethrows the first one.
  void barrier();

 private:
  struct JobRef {
    void* obj;
    void (*call)(void* obj, int thread_index, int n_threads);
  };
  void run_erased(JobRef job);
  void worker_loop(int index);
  void execute(int index);
  bool wait_for_work(uint64_t seen);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  // The fields the threads poll, each on its own cache line. The job shares the generation's
  // line: a worker that sees a new generation has the job in the same transfer.
  alignas(64) std::atomic<uint64_t> generation_{0};
  JobRef job_{};
  uint64_t finished_target_ = 0;  // what finished_ reaches when the current job is done (caller's)
  // Jobs the workers have finished, ever: each run() adds n_threads_ - 1, so the caller waits
  // for a target instead of resetting a counter (a store that would fetch the line first).
  alignas(64) std::atomic<uint64_t> finished_{0};
  alignas(64) std::atomic<int> barrier_arrived_{0};
  alignas(64) std::atomic<uint64_t> barrier_phase_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> failed_{false};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_cv_;
  std::condition_variable done_cv_;
  std::exception_ptr error_;  // guarded by mutex_
  // parallel_for_stealing's per-thread shares (one per thread, each on its own cache line).
  struct alignas(64) StealShare {
    std::atomic<uint64_t> span{0};  // front (low 32 bits) and back (high 32 bits), in grains
  };
  std::unique_ptr<StealShare[]> steal_shares_;
  static uint64_t pack_share(int64_t front, int64_t back) {
    return static_cast<uint64_t>(front) | (static_cast<uint64_t>(back) << 32);
  }
};

// The per-token steps of a batch (norms, RoPE, SwiGLU, residual adds): body(t0, t1) over
// [0, n_tokens), spread over the pool from kParallelTokens tokens on (a dispatch costs about
// what a few tokens of such a step do). On the calling thread alone these steps were ~3% of a
// 2-thread 512-token prefill. The body must compute each token the same way for any split.
inline constexpr int64_t kParallelTokens = 8;
template <class Body>
void for_tokens(ThreadPool& pool, int64_t n_tokens, Body&& body) {
  if (n_tokens >= kParallelTokens) {
    pool.parallel_for(n_tokens, 1, body);
  } else if (n_tokens > 0) {
    body(int64_t{0}, n_tokens);
  }
}

}  // namespace edgellm::runtime
