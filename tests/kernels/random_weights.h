// Random test data for weight-matrix products: normal(0, 1) floats, and matrices of them
// quantized to a weight format (F32 stored as is).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quant/quant.h"

namespace edgellm::test {

inline std::vector<float> random_normals(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

struct RandomMatrix {
  std::shared_ptr<const std::vector<uint8_t>> bytes;  // shared by copies, so `w` stays valid
  kernels::WeightMatrix w;
};

inline RandomMatrix random_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  const std::vector<float> f = random_normals(static_cast<size_t>(rows * cols), seed);
  auto bytes = std::make_shared<std::vector<uint8_t>>(row_bytes(type, cols) * static_cast<size_t>(rows));
  quant::quantize_rows(type, f.data(), bytes->data(), rows, cols);
  return {bytes, {type, rows, cols, bytes->data()}};
}

}  // namespace edgellm::test
