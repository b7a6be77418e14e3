// Typed, shape-checked access to a model's tensors in a GGUF file. Matrices stay in their stored
// format (pointing into the mapping); 1-D tensors (norms, biases) are dequantized to floats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/matmul.h"

namespace edgellm::gguf {
class GgufFile;
struct TensorInfo;
}

namespace edgellm::model {

// Throws when an F32/F16/BF16 tensor's data is not aligned for its element type.
void check_tensor_alignment(const gguf::TensorInfo& tensor);

class PanelStore;

class WeightLoader {
 public:
  // With a PanelStore, projection() / projections() repack what the kernels read faster as
  // panels; without, every matrix stays in place.
  WeightLoader(const gguf::GgufFile& file, std::string_view arch, PanelStore* panels = nullptr)
      : file_(file), arch_(arch), panels_(panels) {}

  const gguf::GgufFile& file() const { return file_; }
  bool has(std::string_view name) const;

  // A 2-D tensor with GGUF dims {cols, rows}; throws "missing tensor" / "wrong shape" /
  // "type not supported" errors that name the tensor.
  kernels::WeightMatrix matrix(std::string_view name, int64_t rows, int64_t cols) const;
  std::optional<kernels::WeightMatrix> optional_matrix(std::string_view name, int64_t rows,
                                                       int64_t cols) const;
  // A matrix used only through kernels::matmul and friends (never sliced by rows), so it may
  // be repacked into panels.
  kernels::WeightMatrix projection(std::string_view name, int64_t rows, int64_t cols) const;
  // The n matrices of a stacked 3-D tensor (dims {cols, rows, n}), e.g. MoE experts.
  std::vector<kernels::WeightMatrix> stacked(const std::string& name, int64_t n, int64_t rows,
                                             int64_t cols) const;
  std::vector<kernels::WeightMatrix> stacked_projections(const std::string& name, int64_t n,
                                                         int64_t rows, int64_t cols) const;
  // Repacks a matrix from matrix() (e.g. the token embedding when it is also the LM head).
  void make_projection(kernels::WeightMatrix& m) const;
  // Keeps m in rows but moves it onto the PanelStore's huge pages (PanelStore::relocate).
  void relocate(kernels::WeightMatrix& m) const;

  // A 1-D tensor of n elements as floats.
  std::vector<float> vector(std::string_view name, int64_t n) const;
  std::optional<std::vector<float>> optional_vector(std::string_view name, int64_t n) const;

 private:
  // The tensor `name` checked against GGUF dims `dims`, a computable type and alignment (throws
  // naming the tensor), or nullptr when the file has none.
  const gguf::TensorInfo* weight_tensor(std::string_view name, const std::vector<int64_t>& dims) const;

  const gguf::GgufFile& file_;
  std::string arch_;
  PanelStore* panels_;
};

}  // namespace edgellm::model
