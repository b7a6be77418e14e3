// The fused decode products (runtime/fused_matvec.h) against kernels::matmul() for one token:
// bitwise equal for every format and thread count, with chunk boundaries inside each segment
// and row-wise follow-up work applied exactly once per row.
#include "runtime/fused_matvec.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "kernels/random_weights.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {
namespace {

using test::random_matrix;
using test::RandomMatrix;

std::vector<float> random_row(int64_t n, uint32_t seed) {
  return test::random_normals(static_cast<size_t>(n), seed);
}

std::vector<float> reference(const kernels::WeightMatrix& w, const std::vector<float>& x) {
  ThreadPool pool(1);
  std::vector<float> y(static_cast<size_t>(w.rows));
  kernels::matmul(w, x.data(), 1, y.data(), pool);
  return y;
}

class FusedMatvec : public ::testing::TestWithParam<TensorType> {};

TEST_P(FusedMatvec, SingleMatrixEqualsMatmulForAnyThreadCount) {
  const int64_t cols = 512;
  // Rows of several 32 KiB chunks, and not a multiple of the 16-row grain.
  const RandomMatrix m = random_matrix(GetParam(), 1000, cols, 1);
  const std::vector<float> x = random_row(cols, 2);
  const std::vector<float> want = reference(m.w, x);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> y(want.size(), -1.0f);
    fused_matvec(m.w, x.data(), y.data(), pool);
    EXPECT_EQ(y, want) << "threads " << threads;
  }
}

TEST_P(FusedMatvec, SegmentsShareOneQuantizedRowAndRunFollowUpOncePerRow) {
  const int64_t cols = 256;
  const RandomMatrix a = random_matrix(GetParam(), 600, cols, 3);
  const RandomMatrix b = random_matrix(GetParam(), 72, cols, 4);
  const RandomMatrix c = random_matrix(TensorType::Q8_0, 200, cols, 5);  // another activation format
  const std::vector<float> x = random_row(cols, 6);
  const std::vector<float> want_a = reference(a.w, x), want_b = reference(b.w, x),
                           want_c = reference(c.w, x);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    QuantizedRow row;
    row.prepare(x.data(), cols, {&a.w, &b.w, &c.w});
    std::vector<float> ya(want_a.size()), yb(want_b.size()), yc(want_c.size());
    std::vector<int> follow_ups(want_a.size());
    auto fa = [&](int64_t r0, int64_t r1) {
      matvec_rows(a.w, row, r0, r1, ya.data());
      for (int64_t r = r0; r < r1; ++r) follow_ups[static_cast<size_t>(r)]++;
    };
    auto fb = [&](int64_t r0, int64_t r1) { matvec_rows(b.w, row, r0, r1, yb.data()); };
    auto fc = [&](int64_t r0, int64_t r1) { matvec_rows(c.w, row, r0, r1, yc.data()); };
    const RowSegment segments[] = {RowSegment::of(a.w.rows, a.w.row_stride(), fa),
                                   RowSegment::of(b.w.rows, b.w.row_stride(), fb),
                                   RowSegment::of(c.w.rows, c.w.row_stride(), fc)};
    run_row_segments(segments, pool);
    EXPECT_EQ(ya, want_a) << "threads " << threads;
    EXPECT_EQ(yb, want_b) << "threads " << threads;
    EXPECT_EQ(yc, want_c) << "threads " << threads;
    EXPECT_EQ(follow_ups, std::vector<int>(want_a.size(), 1)) << "threads " << threads;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, FusedMatvec,
                         ::testing::Values(TensorType::F32, TensorType::Q4_0, TensorType::Q8_0,
                                           TensorType::Q4_K, TensorType::Q6_K),
                         [](const auto& param_info) { return std::string(type_name(param_info.param)); });

TEST(FusedMatvecErrors, RowNotPreparedForTheFormatIsAnError) {
  const RandomMatrix q8 = random_matrix(TensorType::Q8_0, 16, 256, 7);
  const RandomMatrix qk = random_matrix(TensorType::Q4_K, 16, 256, 8);
  const std::vector<float> x = random_row(256, 9);
  QuantizedRow row;
  row.prepare(x.data(), 256, {&q8.w});
  std::vector<float> y(16);
  EXPECT_THROW(matvec_rows(qk.w, row, 0, 16, y.data()), Error);
  EXPECT_THROW(row.prepare(x.data(), 128, {&q8.w}), Error);  // column count mismatch
}

}  // namespace
}  // namespace edgellm::runtime
