// A loaded model: the mapped GGUF file, its configuration, the whole-model tensors (embedding,
// final norm, LM head) and one Layer per block built by the file's architecture. Immutable once
// loaded; any number of runtime::Session objects can run it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "model/architecture.h"
#include "model/model_config.h"
#include "model/panel_store.h"

namespace edgellm::model {

struct LoadOptions {
  // Move the projections onto huge pages, Q4_0 / Q5_0 / Q8_0 / Q4_K ones repacked into the
  // kernels' panel layout, the rest in rows (model/panel_store.h); only for mapped files (a
  // caller's buffer stays as it is). Off: every weight is read in place from the mapping (pages
  // the OS can evict and share).
  bool repack_weights = true;
};

class Model {
 public:
  // Opens and maps `path`; throws edgellm::Error for an unknown architecture, a missing or
  // misshapen tensor, or bad metadata, naming it.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& options = {});
  static std::unique_ptr<Model> from_file(gguf::GgufFile file, const LoadOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const Architecture& architecture() const { return *arch_; }
  const gguf::GgufFile& file() const { return file_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }

  const kernels::WeightMatrix& token_embedding() const { return token_embd_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const kernels::WeightMatrix& output() const { return output_; }  // token_embd when tied
  const kernels::Rope& rope() const { return rope_; }

  // Bytes of tensor data in the file.
  size_t weight_bytes() const;
  // Bytes of those repacked into panels at load (0 with repack_weights off).
  size_t repacked_bytes() const { return panels_ ? panels_->repacked_bytes() : 0; }
  // The byte ranges of the file that repacked copies replaced (unmapped: never read again).
  const std::vector<std::pair<const uint8_t*, const uint8_t*>>& repacked_ranges() const { return panels_->replaced(); }
  // Reads one byte of every page of weights the model uses (the mapping's pages it still reads
  // and the repacked copies), so that timing runs do not include page faults.
  void touch_weights() const;

 private:
  explicit Model(gguf::GgufFile file) : file_(std::move(file)) {}
  gguf::GgufFile file_;
  std::unique_ptr<PanelStore> panels_;  // before the matrices that point into it
  std::unique_ptr<Architecture> arch_;
  ModelConfig config_;
  kernels::Rope rope_;
  kernels::WeightMatrix token_embd_;
  std::vector<float> output_norm_;
  kernels::WeightMatrix output_;
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace edgellm::model
