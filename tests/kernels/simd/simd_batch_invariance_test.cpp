// Batch invariance: for a level and weight format that reports batch_invariant(), the f32
// output of (row r, token t) must be bit-identical whatever the number of tokens in the call,
// the token's position in it, the row range and the thread count. The reference is the
// single-token matvec of the same level; every level this CPU runs is checked through the raw
// KernelSet entries, and kernels::matmul (the active level, EDGELLM_ISA) over 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"
#include "simd_test_util.h"

namespace edgellm::kernels::test {
namespace {

// The formats whose kernels must be batch-invariant on every level.
const TensorType kInvariantFormats[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                                        TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                        TensorType::Q5_1, TensorType::Q8_0, TensorType::IQ4_NL};

// Token counts per call: every small count (tails of every tile), and one past the 128-token
// block kernels::matmul cuts prefill into.
std::vector<int64_t> token_counts() {
  std::vector<int64_t> n;
  for (int64_t i = 1; i <= 20; ++i) n.push_back(i);
  n.push_back(130);
  return n;
}
constexpr int64_t kMaxTokens = 130;

struct Shape {
  int64_t rows, cols;
};

// 48 x 512: whole 16-row panels and 4-block groups. 43 x 544 (floats 43 x 517, K-quants
// 43 x 768): a partial panel, a row remainder below the 4-row tile and an odd number of blocks
// (or columns).
std::vector<Shape> shapes(TensorType t) {
  const ActType a = act_type(t);
  return {{48, 512}, {43, a == ActType::F32 ? 517 : a == ActType::Q8_K ? 768 : 544}};
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::string where(const KernelSet& ks, TensorType t, Shape s, int64_t n, int64_t first, int64_t r,
                  int64_t tok) {
  return std::string(isa_name(ks.isa)) + " " + std::string(type_name(t)) + " " + std::to_string(s.rows) +
         "x" + std::to_string(s.cols) + " n_tokens=" + std::to_string(n) + " first=" + std::to_string(first) +
         " row=" + std::to_string(r) + " token=" + std::to_string(tok);
}

class SimdBatchInvariance : public ::testing::TestWithParam<TensorType> {};

TEST_P(SimdBatchInvariance, ReportedInvariant) {
  for (const KernelSet* ks : usable_sets())
    EXPECT_TRUE(ks->batch_invariant(GetParam())) << isa_name(ks->isa) << " " << type_name(GetParam());
}

// Raw entries of every level that reports `type` invariant: matmul over token windows of every
// size, and matvec over a 16-aligned row sub-range, against the full-range single-token matvec.
void check_kernel_sets(TensorType type) {
  std::mt19937 rng(1234);
  for (Shape s : shapes(type)) {
    const auto w = random_weights(type, s.rows, s.cols, rng);
    const size_t stride = row_bytes(type, s.cols);
    const size_t xs = act_row_bytes(type, s.cols);
    const std::vector<float> x = random_acts(kMaxTokens * s.cols, rng);
    for (const KernelSet* ks : usable_sets()) {
      if (!ks->batch_invariant(type)) continue;
      std::vector<uint8_t> xq(xs * kMaxTokens);
      for (int64_t t = 0; t < kMaxTokens; ++t) ks->quantize_activations(type, &x[t * s.cols], s.cols, &xq[t * xs]);
      // Reference: one matvec per token over all rows.
      std::vector<float> ref(static_cast<size_t>(kMaxTokens * s.rows));
      for (int64_t t = 0; t < kMaxTokens; ++t)
        ks->matvec(type, w.data(), stride, 0, s.rows, s.cols, &xq[t * xs], &ref[t * s.rows]);
      // matvec over rows [16, rows) agrees with the full range.
      std::vector<float> part(static_cast<size_t>(s.rows));
      ks->matvec(type, w.data(), stride, 16, s.rows, s.cols, &xq[0], part.data());
      for (int64_t r = 16; r < s.rows; ++r)
        ASSERT_TRUE(same_bits(part[r], ref[r])) << where(*ks, type, s, 1, 0, r, 0) << " (matvec rows 16..)";
      for (int64_t n : token_counts()) {
        // Two windows per count, so each token is seen at different positions in a call.
        for (int64_t first : {int64_t{0}, kMaxTokens - n}) {
          std::vector<float> y(static_cast<size_t>(n * s.rows), -1.0f);
          for (auto [r0, r1] : {std::pair<int64_t, int64_t>{0, 16}, {16, s.rows}})
            ks->matmul(type, w.data(), stride, r0, r1, s.cols, &xq[first * xs], xs, n, y.data(),
                       static_cast<size_t>(s.rows));
          for (int64_t t = 0; t < n; ++t)
            for (int64_t r = 0; r < s.rows; ++r)
              ASSERT_TRUE(same_bits(y[t * s.rows + r], ref[(first + t) * s.rows + r]))
                  << where(*ks, type, s, n, first, r, first + t) << ": " << y[t * s.rows + r]
                  << " vs single-token " << ref[(first + t) * s.rows + r];
        }
      }
    }
  }
}

TEST_P(SimdBatchInvariance, KernelSetMatmulMatchesMatvecBitwise) { check_kernel_sets(GetParam()); }

// kernels::matmul (active level, f32 activations in) with 1 and 2 threads against one token
// at a time on one thread.
TEST_P(SimdBatchInvariance, MatmulMatchesSingleTokenBitwise) {
  const TensorType type = GetParam();
  if (!active().batch_invariant(type)) GTEST_SKIP() << "not batch-invariant at " << isa_name(active().isa);
  std::mt19937 rng(99);
  runtime::ThreadPool one(1), two(2);
  for (Shape s : shapes(type)) {
    const auto w = random_weights(type, s.rows, s.cols, rng);
    const WeightMatrix wm{type, s.rows, s.cols, w.data()};
    const std::vector<float> x = random_acts(kMaxTokens * s.cols, rng);
    std::vector<float> ref(static_cast<size_t>(kMaxTokens * s.rows));
    for (int64_t t = 0; t < kMaxTokens; ++t) matmul(wm, &x[t * s.cols], 1, &ref[t * s.rows], one);
    for (runtime::ThreadPool* pool : {&one, &two})
      for (int64_t n : token_counts()) {
        const int64_t first = (kMaxTokens - n) / 2;
        std::vector<float> y(static_cast<size_t>(n * s.rows));
        matmul(wm, &x[first * s.cols], n, y.data(), *pool);
        for (int64_t t = 0; t < n; ++t)
          for (int64_t r = 0; r < s.rows; ++r)
            ASSERT_TRUE(same_bits(y[t * s.rows + r], ref[(first + t) * s.rows + r]))
                << where(active(), type, s, n, first, r, first + t) << " threads=" << pool->size();
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, SimdBatchInvariance, ::testing::ValuesIn(kInvariantFormats),
                         [](const auto& p) { return std::string(type_name(p.param)); });

// The other formats (the K-quants) are checked on every level that reports them invariant.
class SimdBatchInvarianceReported : public ::testing::TestWithParam<TensorType> {};
TEST_P(SimdBatchInvarianceReported, KernelSetMatmulMatchesMatvecBitwise) { check_kernel_sets(GetParam()); }
INSTANTIATE_TEST_SUITE_P(OtherFormats, SimdBatchInvarianceReported,
                         ::testing::Values(TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                                           TensorType::Q5_K, TensorType::Q6_K),
                         [](const auto& p) { return std::string(type_name(p.param)); });

}  // namespace
}  // namespace edgellm::kernels::test
