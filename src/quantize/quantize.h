// Model quantization: a GGUF in, a GGUF out with each tensor converted to the type the scheme's
// policy (quant_policy.h) gives it. Streams tensor by tensor (the input is mmapped and each
// tensor's pages are released once it is written), so peak memory is about the largest tensor
// in its new format plus a bounded slab of floats, not the model. Rows are quantized in
// parallel on a runtime::ThreadPool; the output does not depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "quantize/quant_policy.h"

namespace edgellm::runtime {
class ThreadPool;
}

namespace edgellm::quantize {

struct ImatrixData;

struct QuantizeOptions {
  QuantScheme scheme;
  bool keep_output_f16 = false;
  const ImatrixData* imatrix = nullptr;  // importance per weight name, or none
  std::string imatrix_file;              // recorded in the output's metadata when set
};

// One line of progress, reported after each tensor is written.
struct TensorReport {
  size_t index = 0, count = 0;       // 0-based position, number of tensors
  std::string name;
  std::vector<int64_t> dims;
  TensorType from = TensorType::F32, to = TensorType::F32;
  std::optional<TensorType> preferred;  // the rule's type when a fallback was needed
  bool used_imatrix = false;
  size_t bytes_in = 0, bytes_out = 0;
};

struct QuantizeSummary {
  size_t bytes_in = 0, bytes_out = 0;  // tensor data only
  int64_t n_elements = 0;              // weights in all tensors
  int n_tensors = 0, n_fallbacks = 0, n_without_imatrix = 0;
  double bits_per_weight_in() const { return n_elements ? 8.0 * bytes_in / n_elements : 0; }
  double bits_per_weight_out() const { return n_elements ? 8.0 * bytes_out / n_elements : 0; }
};

using ProgressFn = std::function<void(const TensorReport&)>;

// Writes out_path (via out_path.partial, renamed when complete). Metadata is copied, with
// general.file_type set to the scheme's llama.cpp file type and general.quantization_version = 2
// (plus quantize.imatrix.* keys as llama-quantize writes them when an imatrix is used). Throws
// edgellm::Error naming the tensor for an input type we cannot convert or an imatrix entry of
// the wrong size.
QuantizeSummary quantize_model(const std::string& in_path, const std::string& out_path,
                               const QuantizeOptions& options, runtime::ThreadPool& pool,
                               const ProgressFn& progress = {});

}  // namespace edgellm::quantize
