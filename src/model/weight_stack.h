// Views of the matrices of a stacked 3-D GGUF tensor (dims {cols, rows, n}: n matrices of
// rows × cols, e.g. MoE experts or MLA's per-head attn_k_b / attn_v_b), read in place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "kernels/quant/quant.h"
#include "model/weights.h"

namespace edgellm::model {

inline std::vector<kernels::WeightMatrix> stacked_matrices(const WeightLoader& w, const std::string& name,
                                                           int64_t n, int64_t rows, int64_t cols) {
  const gguf::TensorInfo* t = w.file().find_tensor(name);
  if (t == nullptr) fail("model file is missing tensor '{}'", name);
  if (t->dims.size() != 3 || t->dims[0] != cols || t->dims[1] != rows || t->dims[2] != n)
    fail("tensor '{}' must have shape [{}, {}, {}]", name, cols, rows, n);
  if (!quant::can_dequantize(t->type))
    fail("tensor '{}' has type {}, which this build cannot compute with", name, type_name(t->type));
  std::vector<kernels::WeightMatrix> out;
  const size_t stride = row_bytes(t->type, cols) * static_cast<size_t>(rows);
  for (int64_t e = 0; e < n; ++e) out.push_back({t->type, rows, cols, t->data + static_cast<size_t>(e) * stride});
  return out;
}

}  // namespace edgellm::model
