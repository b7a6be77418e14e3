// Batch invariance of the K-quant kernels (Q2_K Q3_K Q4_K Q5_K Q6_K): on every level this
// machine runs, the f32 result for (row r, token t) is bit-identical whatever the number of
// tokens in the call, the token's position in it, the row range and the thread count. The
// reference is the same level's single-token result (matvec), which is what one request alone
// gets; the server batches concurrent requests and relies on this to answer each one exactly
// as if it were alone.
#include <gtest/gtest.h>

#include <bit>
#include <string>

#include "kernels/matmul.h"
#include "runtime/thread_pool.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

constexpr TensorType kKQuants[] = {TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                                   TensorType::Q5_K, TensorType::Q6_K};
// 53 rows: whole 16-row matvec tiles plus a 5-row remainder; 768 columns: 3 super-blocks (an
// odd count, so a kernel that pairs super-blocks has a tail).
constexpr int64_t kRows = 53;
constexpr int64_t kCols = 768;
// Token counts of one call: every tile/tail combination up to 20, and more than a 128-token
// block of kernels::matmul.
std::vector<int64_t> token_counts() {
  std::vector<int64_t> n;
  for (int64_t k = 1; k <= 20; ++k) n.push_back(k);
  n.push_back(130);
  return n;
}
constexpr int64_t kMaxOffset = 11;  // calls start at token (n * 7) % kMaxOffset of the batch
constexpr int64_t kTokens = 130 + kMaxOffset;

class KQuantInvariance : public ::testing::TestWithParam<TensorType> {
 protected:
  void SetUp() override {
    std::mt19937 rng(20261129u + static_cast<unsigned>(GetParam()));
    w_ = random_weights(GetParam(), kRows, kCols, rng);
    x_ = random_acts(kCols * kTokens, rng);
  }
  size_t stride() const { return row_bytes(GetParam(), kCols); }

  // The level's activations for every token of the batch.
  std::vector<uint8_t> quantized(const KernelSet& ks) const {
    const size_t ab = act_row_bytes(GetParam(), kCols);
    std::vector<uint8_t> xq(ab * kTokens);
    for (int64_t k = 0; k < kTokens; ++k)
      ks.quantize_activations(GetParam(), x_.data() + k * kCols, kCols, xq.data() + ab * static_cast<size_t>(k));
    return xq;
  }

  // want[t * kRows + r]: the level's matvec of token t alone, all rows in one call.
  std::vector<float> single_token_results(const KernelSet& ks, const std::vector<uint8_t>& xq) const {
    const size_t ab = act_row_bytes(GetParam(), kCols);
    std::vector<float> want(static_cast<size_t>(kRows * kTokens));
    for (int64_t k = 0; k < kTokens; ++k)
      ks.matvec(GetParam(), w_.data(), stride(), 0, kRows, kCols, xq.data() + ab * static_cast<size_t>(k),
                want.data() + k * kRows);
    return want;
  }

  std::vector<uint8_t> w_;
  std::vector<float> x_;
};

// Counts the outputs of rows [begin, end) x tokens [first, first + n) that differ in any bit
// from want, and reports the first one.
int64_t count_mismatches(const std::vector<float>& got, size_t got_stride, const std::vector<float>& want,
                         int64_t first, int64_t n, int64_t begin, int64_t end, const std::string& what) {
  int64_t bad = 0;
  for (int64_t k = 0; k < n; ++k)
    for (int64_t r = begin; r < end; ++r) {
      const float g = got[static_cast<size_t>(k) * got_stride + static_cast<size_t>(r)];
      const float e = want[static_cast<size_t>((first + k) * kRows + r)];
      if (std::bit_cast<uint32_t>(g) == std::bit_cast<uint32_t>(e)) continue;
      if (bad++ == 0)
        ADD_FAILURE() << what << ": token " << k << " of " << n << " row " << r << " got " << g
                      << " alone " << e;
    }
  return bad;
}

TEST_P(KQuantInvariance, RawKernelsMatchSingleToken) {
  const TensorType t = GetParam();
  const size_t ab = act_row_bytes(t, kCols);
  for (const KernelSet* ks : usable_sets()) {
    const auto xq = quantized(*ks);
    const auto want = single_token_results(*ks, xq);
    const std::string level(isa_name(ks->isa));
    // matvec over row ranges that cut the row tiles anywhere
    for (auto [begin, end] : {std::pair<int64_t, int64_t>{16, kRows}, {3, 41}, {5, 6}, {1, 17}}) {
      for (int64_t k : {int64_t{0}, kTokens - 1}) {
        std::vector<float> got(kRows, -777.0f);
        ks->matvec(t, w_.data(), stride(), begin, end, kCols, xq.data() + ab * static_cast<size_t>(k), got.data());
        const std::string what = level + " " + std::string(type_name(t)) + " matvec rows " +
                                 std::to_string(begin) + ".." + std::to_string(end);
        EXPECT_EQ(count_mismatches(got, 0, want, k, 1, begin, end, what), 0) << what;
      }
    }
    // matmul: every token count, starting anywhere in the batch, over all rows and a cut range
    for (int64_t n : token_counts()) {
      const int64_t first = (n * 7) % kMaxOffset;
      for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, kRows}, {7, 38}}) {
        const size_t ys = kRows + 2;
        std::vector<float> got(ys * static_cast<size_t>(n), -777.0f);
        ks->matmul(t, w_.data(), stride(), begin, end, kCols, xq.data() + ab * static_cast<size_t>(first), ab,
                   n, got.data(), ys);
        const std::string what = level + " " + std::string(type_name(t)) + " matmul of " + std::to_string(n) +
                                 " tokens from " + std::to_string(first) + ", rows " + std::to_string(begin) +
                                 ".." + std::to_string(end);
        EXPECT_EQ(count_mismatches(got, ys, want, first, n, begin, end, what), 0) << what;
      }
    }
  }
}

// kernels::matmul (the engine's entry point: the active level, 128-token blocks, rows split
// over the pool) against itself with one token, at 1 and 2 threads.
TEST_P(KQuantInvariance, MatmulMatchesSingleTokenAtAnyThreadCount) {
  const TensorType t = GetParam();
  const WeightMatrix w{t, kRows, kCols, w_.data()};
  std::vector<float> want(static_cast<size_t>(kRows * kTokens));
  {
    runtime::ThreadPool pool(1);
    for (int64_t k = 0; k < kTokens; ++k) matmul(w, x_.data() + k * kCols, 1, want.data() + k * kRows, pool);
  }
  for (int threads : {1, 2}) {
    runtime::ThreadPool pool(threads);
    for (int64_t n : token_counts()) {
      const int64_t first = (n * 5) % kMaxOffset;
      std::vector<float> got(static_cast<size_t>(kRows * n));
      matmul(w, x_.data() + first * kCols, n, got.data(), pool);
      const std::string what = std::string(isa_name(active().isa)) + " " + std::string(type_name(t)) +
                               " kernels::matmul of " + std::to_string(n) + " tokens, " +
                               std::to_string(threads) + " threads";
      EXPECT_EQ(count_mismatches(got, kRows, want, first, n, 0, kRows, what), 0) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KQuants, KQuantInvariance, ::testing::ValuesIn(kKQuants),
                         [](const auto& param_info) { return std::string(type_name(param_info.param)); });

}  // namespace
}  // namespace edgellm::kernels::test
