#include "model/weights.h"

#include <cstdint>
#include <string>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/quant/quant.h"
#include "model/panel_store.h"

namespace edgellm::model {

namespace {

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

}  // namespace

void check_tensor_alignment(const gguf::TensorInfo& t) {
  // F32 / F16 / BF16 data is read as float / uint16_t; a file with a tiny general.alignment
  // could otherwise place it at an odd address.
  size_t need = 1;
  if (t.type == TensorType::F32) need = alignof(float);
  if (t.type == TensorType::F16 || t.type == TensorType::BF16) need = alignof(uint16_t);
  if (reinterpret_cast<uintptr_t>(t.data) % need != 0)
    fail("tensor '{}' ({}) starts at a misaligned address; the file's alignment is unusable", t.name,
         type_name(t.type));
}

bool WeightLoader::has(std::string_view name) const { return file_.find_tensor(name) != nullptr; }

const gguf::TensorInfo* WeightLoader::weight_tensor(std::string_view name, const std::vector<int64_t>& dims) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (t == nullptr) return nullptr;
  if (t->dims != dims)
    fail("tensor '{}' has shape {}, expected {} for architecture {}", name, dims_text(t->dims), dims_text(dims),
         arch_);
  if (!quant::can_dequantize(t->type))
    fail("tensor '{}' has type {}, which this build cannot compute with", name, type_name(t->type));
  check_tensor_alignment(*t);
  return t;
}

std::optional<kernels::WeightMatrix> WeightLoader::optional_matrix(std::string_view name,
                                                                   int64_t rows,
                                                                   int64_t cols) const {
  const gguf::TensorInfo* t = weight_tensor(name, {cols, rows});
  if (t == nullptr) return std::nullopt;
  return kernels::WeightMatrix{t->type, rows, cols, t->data};
}

kernels::WeightMatrix WeightLoader::matrix(std::string_view name, int64_t rows, int64_t cols) const {
  auto m = optional_matrix(name, rows, cols);
  if (!m) fail("model file is missing tensor '{}' (required by architecture {})", name, arch_);
  return *m;
}

kernels::WeightMatrix WeightLoader::projection(std::string_view name, int64_t rows, int64_t cols) const {
  kernels::WeightMatrix m = matrix(name, rows, cols);
  make_projection(m);
  return m;
}

void WeightLoader::make_projection(kernels::WeightMatrix& m) const {
  if (panels_ != nullptr) panels_->repack(m);
}

void WeightLoader::relocate(kernels::WeightMatrix& m) const {
  if (panels_ != nullptr) panels_->relocate(m);
}

std::vector<kernels::WeightMatrix> WeightLoader::stacked(const std::string& name, int64_t n, int64_t rows,
                                                         int64_t cols) const {
  const gguf::TensorInfo* t = weight_tensor(name, {cols, rows, n});
  if (t == nullptr) fail("model file is missing tensor '{}' (required by architecture {})", name, arch_);
  std::vector<kernels::WeightMatrix> out;
  const size_t stride = row_bytes(t->type, cols) * static_cast<size_t>(rows);
  for (int64_t e = 0; e < n; ++e) out.push_back({t->type, rows, cols, t->data + static_cast<size_t>(e) * stride});
  return out;
}

std::vector<kernels::WeightMatrix> WeightLoader::stacked_projections(const std::string& name, int64_t n,
                                                                     int64_t rows, int64_t cols) const {
  std::vector<kernels::WeightMatrix> out = stacked(name, n, rows, cols);
  if (panels_ != nullptr) panels_->repack(out);
  return out;
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
  check_tensor_alignment(*t);
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
