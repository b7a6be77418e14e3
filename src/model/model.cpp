#include "model/model.h"

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "model/weights.h"

namespace edgellm::model {

std::unique_ptr<Model> Model::load(const std::string& path) {
  return from_file(gguf::GgufFile::open(path));
}

std::unique_ptr<Model> Model::from_file(gguf::GgufFile file) {
  std::unique_ptr<Model> m(new Model(std::move(file)));
  const std::string arch_name = m->file_.get_string_or(std::string(gguf::key::kArchitecture), "");
  if (arch_name.empty()) fail("model file has no '{}' key", gguf::key::kArchitecture);
  m->arch_ = create_architecture(arch_name);
  m->config_ = m->arch_->read_config(m->file_);
  const ModelConfig& c = m->config_;
  m->rope_ = kernels::Rope(c.rope);

  const WeightLoader w(m->file_, arch_name);
  m->token_embd_ = w.matrix(gguf::tensor::kTokenEmbedding, c.n_vocab, c.n_embd);
  m->output_norm_ = w.vector(gguf::tensor::kOutputNorm, c.n_embd);
  m->output_ = c.tied_embeddings ? m->token_embd_
                                 : w.matrix(gguf::tensor::kOutput, c.n_vocab, c.n_embd);
  m->layers_.reserve(static_cast<size_t>(c.n_layer));
  for (int64_t i = 0; i < c.n_layer; ++i)
    m->layers_.push_back(m->arch_->load_layer(w, c, static_cast<int>(i)));
  return m;
}

size_t Model::weight_bytes() const {
  size_t total = 0;
  for (const auto& t : file_.tensors()) total += t.n_bytes;
  return total;
}

}  // namespace edgellm::model
