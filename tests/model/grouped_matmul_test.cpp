// grouped_matmul against one kernels::matmul per product: bit-identical outputs for mixed weight
// types (one input shared by several matrices, strided inputs and outputs, row counts that are
// not multiples of the 16-row grain, batches longer than the 128-token block, empty tasks), for
// 1, 2 and 3 threads; bad tasks are rejected.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/random_weights.h"
#include "model/grouped_matmul.h"
#include "runtime/thread_pool.h"

namespace edgellm::test {
namespace {

// The same product the plain way: contiguous rows in, kernels::matmul, contiguous rows out.
std::vector<float> expected_output(const model::MatmulTask& t) {
  std::vector<float> x(static_cast<size_t>(t.n_tokens * t.w.cols)), y(static_cast<size_t>(t.n_tokens * t.w.rows));
  for (int64_t i = 0; i < t.n_tokens; ++i)
    std::memcpy(x.data() + i * t.w.cols, t.x + i * t.x_stride, sizeof(float) * static_cast<size_t>(t.w.cols));
  runtime::ThreadPool serial(1);
  if (t.n_tokens > 0) kernels::matmul(t.w, x.data(), t.n_tokens, y.data(), serial);
  return y;
}

class GroupedMatmulTest : public ::testing::TestWithParam<int64_t> {};  // tokens per task

TEST_P(GroupedMatmulTest, MatchesOneMatmulPerProductForAnyThreadCount) {
  const int64_t n = GetParam();
  const std::vector<RandomMatrix> m = {
      random_matrix(TensorType::Q4_0, 40, 64, 1),   // 2.5 grains
      random_matrix(TensorType::Q8_0, 16, 64, 2),   // shares Q4_0's input (one quantization)
      random_matrix(TensorType::Q4_K, 24, 256, 3),  // Q8_K activations
      random_matrix(TensorType::F32, 17, 32, 4),    // floats read in place
      random_matrix(TensorType::Q6_K, 33, 256, 5),
      random_matrix(TensorType::Q8_0, 2048, 64, 6),  // big enough to split even for one token
  };
  // Inputs: x64 for both 64-column matrices; the 256-column ones read every other 256 floats of
  // a strided buffer; the F32 one 32 floats of 48-float rows.
  const std::vector<float> x64 = random_normals(static_cast<size_t>(n * 64), 10);
  const std::vector<float> x256 = random_normals(static_cast<size_t>(n * 512), 11);
  const std::vector<float> x32 = random_normals(static_cast<size_t>(n * 48), 12);
  struct Out {
    int64_t stride;
    std::vector<float> y;
  };
  std::vector<Out> out = {{40, {}}, {20, {}}, {24, {}}, {17, {}}, {40, {}}, {2048, {}}};
  for (Out& o : out) o.y.assign(static_cast<size_t>(std::max<int64_t>(n, 1) * o.stride), 0.0f);
  std::vector<model::MatmulTask> tasks = {
      {m[0].w, x64.data(), 64, n, out[0].y.data(), 40},  {m[1].w, x64.data(), 64, n, out[1].y.data(), 20},
      {m[2].w, x256.data(), 512, n, out[2].y.data(), 24}, {m[3].w, x32.data(), 48, n, out[3].y.data(), 17},
      {m[4].w, x256.data() + 256, 512, n, out[4].y.data(), 40},
      {m[5].w, x64.data(), 64, n, out[5].y.data(), 2048},
      {m[0].w, nullptr, 0, 0, nullptr, 0},  // no tokens: nothing to do
  };
  std::vector<uint8_t> buffer(model::grouped_matmul_buffer_bytes(tasks));

  for (const int threads : {1, 2, 3}) {
    SCOPED_TRACE(testing::Message() << threads << " threads");
    for (Out& o : out) std::fill(o.y.begin(), o.y.end(), -1.0f);
    runtime::ThreadPool pool(threads);
    model::grouped_matmul(tasks, buffer.data(), pool);
    for (size_t i = 0; i + 1 < tasks.size(); ++i) {
      const model::MatmulTask& t = tasks[i];
      const std::vector<float> want = expected_output(t);
      for (int64_t tok = 0; tok < n; ++tok) {
        for (int64_t r = 0; r < t.w.rows; ++r) {
          const float got = t.y[tok * t.y_stride + r], exp = want[static_cast<size_t>(tok * t.w.rows + r)];
          ASSERT_EQ(std::memcmp(&got, &exp, sizeof(float)), 0)
              << "task " << i << " token " << tok << " row " << r << ": " << got << " vs " << exp;
        }
        for (int64_t r = t.w.rows; r < t.y_stride; ++r)  // padding of a strided output untouched
          ASSERT_EQ(t.y[tok * t.y_stride + r], -1.0f) << "task " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tokens, GroupedMatmulTest, ::testing::Values(1, 3, 130));

TEST(GroupedMatmul, RejectsBadTasks) {
  runtime::ThreadPool pool(2);
  const RandomMatrix m = random_matrix(TensorType::Q4_0, 16, 64, 1);
  std::vector<float> x(128), y(32);
  std::vector<uint8_t> buffer(4096);
  const model::MatmulTask empty_weight{kernels::WeightMatrix{}, x.data(), 64, 1, y.data(), 16};
  EXPECT_THROW(model::grouped_matmul({&empty_weight, 1}, buffer.data(), pool), Error);
  const model::MatmulTask no_input{m.w, nullptr, 64, 1, y.data(), 16};
  EXPECT_THROW(model::grouped_matmul({&no_input, 1}, buffer.data(), pool), Error);
  const model::MatmulTask short_stride{m.w, x.data(), 32, 2, y.data(), 16};
  EXPECT_THROW(model::grouped_matmul({&short_stride, 1}, buffer.data(), pool), Error);
}

}  // namespace
}  // namespace edgellm::test
