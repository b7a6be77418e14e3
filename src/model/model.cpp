#include "model/model.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "model/weights.h"

namespace edgellm::model {

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  return from_file(gguf::GgufFile::open(path), options);
}

std::unique_ptr<Model> Model::from_file(gguf::GgufFile file, const LoadOptions& options) {
  std::unique_ptr<Model> m(new Model(std::move(file)));
  const std::string arch_name = m->file_.get_string_or(std::string(gguf::key::kArchitecture), "");
  if (arch_name.empty()) fail("model file has no '{}' key", gguf::key::kArchitecture);
  m->arch_ = create_architecture(arch_name);
  m->config_ = m->arch_->read_config(m->file_);
  const ModelConfig& c = m->config_;
  m->rope_ = kernels::Rope(c.rope);

  // EDGELLM_REPACK=0 turns repacking off for any program (A/B measurements, like EDGELLM_ISA).
  const char* repack_env = std::getenv("EDGELLM_REPACK");
  // A caller's buffer cannot give its pages back, so repacking it would double the memory.
  const bool repack = options.repack_weights && m->file_.is_mapped() &&
                      !(repack_env != nullptr && std::string_view(repack_env) == "0");
  m->panels_ = std::make_unique<PanelStore>(m->file_, repack);
  const WeightLoader w(m->file_, arch_name, m->panels_.get());
  m->token_embd_ = w.matrix(gguf::tensor::kTokenEmbedding, c.n_vocab, c.n_embd);
  m->output_norm_ = w.vector(gguf::tensor::kOutputNorm, c.n_embd);
  // The LM head only ever multiplies one row per sequence (the last prompt token, each decode
  // step), so its layout is chosen for streaming alone. Q6_K stays in rows for every matrix
  // (PanelStore::streams_faster_in_rows; a Q6_K head in panels: llama-1b Q4_0 decode 0.75 of
  // the read bound, 0.86 in rows on huge pages). Q4_K panels stream a little slower than rows
  // too (simd_bench pool_matvec, 1 thread: 0.72-0.82 vs 0.84-0.86) but halve the prefill work of
  // the layers, so only a Q4_K head stays in rows; Q8_0 / Q4_0 heads stream faster in panels
  // (qwen2-0.5b Q4_0's Q8_0 head: 0.84-0.86 in panels, 0.78-0.79 in rows on huge pages).
  const auto lm_head_layout = [&](kernels::WeightMatrix& head) {
    if (head.type == TensorType::Q4_K)
      w.relocate(head);
    else
      w.make_projection(head);
  };
  if (c.tied_embeddings) {
    lm_head_layout(m->token_embd_);  // its lookups unpack one row
    m->output_ = m->token_embd_;
  } else {
    m->output_ = w.matrix(gguf::tensor::kOutput, c.n_vocab, c.n_embd);
    lm_head_layout(m->output_);
  }
  m->layers_.reserve(static_cast<size_t>(c.n_layer));
  for (int64_t i = 0; i < c.n_layer; ++i)
    m->layers_.push_back(m->arch_->load_layer(w, c, static_cast<int>(i)));
  return m;
}

void Model::touch_weights() const {
  constexpr size_t kPage = 4096;
  // Skip the repacked ranges (touching them would map the dropped pages back in); the copies
  // were written at load and are resident already.
  auto skip = panels_->replaced();
  std::sort(skip.begin(), skip.end());
  const uint8_t* p = file_.bytes().data();
  const uint8_t* const end = p + file_.bytes().size();
  uint8_t sum = 0;
  for (const auto& [begin, stop] : skip) {
    for (; p < begin; p += kPage) sum = static_cast<uint8_t>(sum + *p);
    p = std::max(p, stop);
  }
  for (; p < end; p += kPage) sum = static_cast<uint8_t>(sum + *p);
  volatile uint8_t keep = sum;
  (void)keep;
}

size_t Model::weight_bytes() const {
  size_t total = 0;
  for (const auto& t : file_.tensors()) total += t.n_bytes;
  return total;
}

}  // namespace edgellm::model
