// A persistent pool of worker threads for data-parallel loops (matmuls, attention). The calling
// thread takes part as thread 0, so ThreadPool(1) runs everything inline with no extra thread.
// Not reentrant: run() must not be called from inside a job.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
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
  void run(const std::function<void(int thread_index, int n_threads)>& job);

  // Splits [0, n) into at most size() contiguous chunks whose boundaries are multiples of
  // `grain` (except the end) and calls body(begin, end) for each non-empty chunk.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end)>& body);

 private:
  void worker_loop(int index);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace edgellm::runtime
