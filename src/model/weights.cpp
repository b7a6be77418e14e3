#include "model/weights.h"

#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/quant/quant.h"

namespace edgellm::model {

namespace {

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

}  // namespace

bool WeightLoader::has(std::string_view name) const { return file_.find_tensor(name) != nullptr; }

std::optional<kernels::WeightMatrix> WeightLoader::optional_matrix(std::string_view name,
                                                                   int64_t rows,
                                                                   int64_t cols) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return std::nullopt;
  if (t->dims.size() != 2 || t->dims[0] != cols || t->dims[1] != rows)
    fail("tensor '{}' has shape {}, expected [{}, {}] for architecture {}", name,
         dims_text(t->dims), cols, rows, arch_);
  if (!quant::can_dequantize(t->type))
    fail("tensor '{}' has type {}, which this build cannot compute with", name, type_name(t->type));
  return kernels::WeightMatrix{t->type, rows, cols, t->data};
}

kernels::WeightMatrix WeightLoader::matrix(std::string_view name, int64_t rows, int64_t cols) const {
  auto m = optional_matrix(name, rows, cols);
  if (!m) fail("model file is missing tensor '{}' (required by architecture {})", name, arch_);
  return *m;
}

std::optional<std::vector<float>> WeightLoader::optional_vector(std::string_view name,
                                                                int64_t n) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return std::nullopt;
  if (t->dims.size() != 1 || t->dims[0] != n)
    fail("tensor '{}' has shape {}, expected [{}] for architecture {}", name, dims_text(t->dims),
         n, arch_);
  if (!quant::can_dequantize(t->type))
    fail("tensor '{}' has type {}, which this build cannot read", name, type_name(t->type));
  std::vector<float> out(static_cast<size_t>(n));
  quant::dequantize_row(t->type, t->data, out.data(), n);
  return out;
}

std::vector<float> WeightLoader::vector(std::string_view name, int64_t n) const {
  auto v = optional_vector(name, n);
  if (!v) fail("model file is missing tensor '{}' (required by architecture {})", name, arch_);
  return std::move(*v);
}

}  // namespace edgellm::model
