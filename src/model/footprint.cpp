#include "model/footprint.h"

#include <string>

#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "model/model.h"

namespace edgellm::model {

size_t active_weight_bytes_per_token(const Model& m) {
  const gguf::GgufFile& f = m.file();
  const std::string& arch = m.config().arch;
  const int64_t n_expert = f.get_int_or(gguf::arch_key(arch, gguf::key::kExpertCount), 0);
  const int64_t n_used = f.get_int_or(gguf::arch_key(arch, gguf::key::kExpertUsedCount), 0);
  size_t total = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    size_t bytes = t.n_bytes;
    if (t.name == gguf::tensor::kTokenEmbedding && !m.config().tied_embeddings && t.dims.size() == 2 && t.dims[1] > 0) {
      bytes /= static_cast<size_t>(t.dims[1]);
    } else if (t.name.ends_with("_exps.weight") && t.dims.size() == 3 && t.dims[2] == n_expert && n_used > 0 &&
               n_used <= n_expert) {
      bytes = bytes / static_cast<size_t>(n_expert) * static_cast<size_t>(n_used);
    }
    total += bytes;
  }
  return total;
}

}  // namespace edgellm::model
