#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"

namespace edgellm::runtime {
namespace {

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 7, 64, 1000}) {
      for (int64_t grain : {1, 4, 8, 33}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          ASSERT_LE(0, b);
          ASSERT_LT(b, e);
          ASSERT_LE(e, n);
          if (e != n) {
            EXPECT_EQ(e % grain, 0) << "chunk ends must be grain multiples";
          }
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)], 1) << n << " " << grain;
      }
    }
  }
}

// parallel_for_dynamic and parallel_for_stealing share one contract.
enum class Split { Dynamic, Stealing };

template <class Body>
void split_for(ThreadPool& pool, Split split, int64_t n, int64_t grain, int64_t min_chunk, Body&& body) {
  if (split == Split::Dynamic) {
    pool.parallel_for_dynamic(n, grain, min_chunk, body);
  } else {
    pool.parallel_for_stealing(n, grain, min_chunk, body);
  }
}

class SplitParallelFor : public ::testing::TestWithParam<Split> {};

TEST_P(SplitParallelFor, CoversEveryIndexOnceInGrainAlignedChunks) {
  for (int threads : {1, 2, 3, 5, 9}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 7, 64, 1000, 4099}) {
      for (int64_t grain : {1, 4, 16, 33}) {
        for (int64_t min_chunk : {1, 40, 5000}) {
          std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
          split_for(pool, GetParam(), n, grain, min_chunk, [&](int64_t b, int64_t e) {
            ASSERT_LE(0, b);
            ASSERT_LT(b, e);
            ASSERT_LE(e, n);
            EXPECT_EQ(b % grain, 0) << "chunk starts must be grain multiples";
            if (e != n) {
              EXPECT_EQ(e % grain, 0) << "chunk ends must be grain multiples";
              EXPECT_GE(e - b, std::min(min_chunk, n)) << "chunks below the minimum size";
            }
            for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
          });
          for (int64_t i = 0; i < n; ++i)
            EXPECT_EQ(hits[static_cast<size_t>(i)], 1) << n << " " << grain << " " << min_chunk;
        }
      }
    }
  }
}

// A thread that is held up gets fewer chunks: the others take the rest instead of waiting.
TEST_P(SplitParallelFor, LetsFastThreadsTakeOverWork) {
  ThreadPool pool(2);
  std::atomic<int64_t> slow_rows{0}, chunks{0};
  const auto caller = std::this_thread::get_id();
  split_for(pool, GetParam(), 1024, 1, 1, [&](int64_t b, int64_t e) {
    chunks++;
    if (std::this_thread::get_id() == caller) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      slow_rows += e - b;
    }
  });
  EXPECT_GT(chunks.load(), 2);
  EXPECT_LT(slow_rows.load(), 512) << "the slow thread did half the work or more";
}

// Stealing's point: with nobody held up, each thread's chunks are adjacent (one stream each).
TEST(ThreadPool, StealingChunksOfAThreadAreAdjacentWhenBalanced) {
  ThreadPool pool(2);
  std::mutex m;
  std::vector<std::pair<int64_t, int64_t>> chunks[2];
  const auto caller = std::this_thread::get_id();
  pool.parallel_for_stealing(64 * 1024, 16, 256, [&](int64_t b, int64_t e) {
    {
      std::lock_guard<std::mutex> lock(m);
      chunks[std::this_thread::get_id() == caller ? 0 : 1].emplace_back(b, e);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // both threads busy at once
  });
  int adjacent = 0, total = 0;
  for (auto& c : chunks) {
    std::sort(c.begin(), c.end());
    for (size_t i = 1; i < c.size(); ++i, ++total) adjacent += c[i].first == c[i - 1].second;
  }
  // Only a steal at the end of one share may break a thread's run.
  EXPECT_GE(adjacent, total - 2) << adjacent << " of " << total;
}

INSTANTIATE_TEST_SUITE_P(ThreadPool, SplitParallelFor, ::testing::Values(Split::Dynamic, Split::Stealing),
                         [](const auto& param_info) { return param_info.param == Split::Dynamic ? "Dynamic" : "Stealing"; });

TEST(ThreadPool, RunCallsEveryThreadAndIsReusable) {
  ThreadPool pool(4);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> seen(4);
    pool.run([&](int i, int n) {
      EXPECT_EQ(n, 4);
      seen[static_cast<size_t>(i)]++;
    });
    for (auto& s : seen) EXPECT_EQ(s, 1);
  }
}

TEST(ThreadPool, ExceptionFromWorkerIsRethrown) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.run([](int i, int) {
    if (i == 2) throw Error("boom in worker");
  }),
               Error);
  EXPECT_THROW(pool.run([](int i, int) {
    if (i == 0) throw std::runtime_error("boom in caller");
  }),
               std::runtime_error);
  // Still usable afterwards.
  std::atomic<int> count{0};
  pool.run([&](int, int) { count++; });
  EXPECT_EQ(count, 3);
}

TEST(ThreadPool, BarrierSeparatesPhases) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 20; ++round) {
      std::vector<int> written(static_cast<size_t>(threads), 0);
      std::atomic<int> mismatches{0};
      pool.run([&](int i, int n) {
        for (int phase = 1; phase <= 3; ++phase) {
          written[static_cast<size_t>(i)] = phase;
          pool.barrier();
          // After the barrier every thread has written this phase; nobody has written the next.
          for (int j = 0; j < n; ++j)
            if (written[static_cast<size_t>(j)] != phase) mismatches++;
          pool.barrier();
        }
      });
      EXPECT_EQ(mismatches, 0) << threads << " threads";
    }
  }
}

TEST(ThreadPool, ExceptionBeforeBarrierDoesNotHang) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.run([&](int i, int) {
    if (i == 1) throw std::runtime_error("boom before the barrier");
    pool.barrier();
  }),
               std::runtime_error);
  std::atomic<int> count{0};
  pool.run([&](int, int) {
    pool.barrier();
    count++;
  });
  EXPECT_EQ(count, 3);
}

TEST(ThreadPool, ManyShortDispatchesAfterIdlePeriods) {
  // Dispatches arrive while workers spin and after they fell asleep: none may be lost.
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  for (int burst = 0; burst < 3; ++burst) {
    for (int k = 0; k < 300; ++k) pool.parallel_for(3, 1, [&](int64_t b, int64_t e) { total += e - b; });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin time: workers sleep
  }
  EXPECT_EQ(total, 3 * 300 * 3);
}

TEST(ThreadPool, CallerWaitsForSlowWorkers) {
  // Workers that finish long after the caller (past its spin time: it sleeps), one at a time:
  // the last one to finish wakes it, every round.
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 3; ++round) {
      std::atomic<int> done{0};
      pool.run([&](int i, int) {
        std::this_thread::sleep_for(std::chrono::milliseconds(i == 0 ? 0 : 1 + i + round));
        done++;
      });
      EXPECT_EQ(done, threads) << threads << " threads, round " << round;
    }
  }
}

TEST(ThreadPool, AcceptsStdFunctionAndMutableLambdas) {
  ThreadPool pool(2);
  std::atomic<int> calls{0};
  const std::function<void(int, int)> job = [&](int, int) { calls++; };
  pool.run(job);
  int local = 0;
  pool.parallel_for(1, 1, [&, local](int64_t, int64_t) mutable { calls += ++local; });
  EXPECT_EQ(calls, 3);
}

TEST(ThreadPool, NestedInlinePoolInsideAJob) {
  // Model code runs serial matmuls on an inline pool from inside jobs of the shared pool.
  ThreadPool pool(2);
  std::atomic<int> count{0};
  pool.run([&](int, int) {
    ThreadPool inline_pool(1);
    inline_pool.parallel_for(10, 1, [&](int64_t b, int64_t e) { count += static_cast<int>(e - b); });
  });
  EXPECT_EQ(count, 20);
}

}  // namespace
}  // namespace edgellm::runtime
