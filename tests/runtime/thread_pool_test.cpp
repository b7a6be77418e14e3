#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
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

}  // namespace
}  // namespace edgellm::runtime
