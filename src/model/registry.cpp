// The architecture registry: one row per (GGUF architecture, Hugging Face class). Adding a
// family adds its arch_<name>.cpp and a row here; no other family's code changes.
#include <string>

#include "core/error.h"
#include "model/architecture.h"

namespace edgellm::model {

// Defined in arch_<name>.cpp.
std::unique_ptr<Architecture> make_llama_architecture();
std::unique_ptr<Architecture> make_qwen2_architecture();
std::unique_ptr<Architecture> make_deepseek2_architecture();

namespace {

struct Entry {
  std::string_view gguf_name;
  std::string_view hf_class;
  std::unique_ptr<Architecture> (*make)();
};

constexpr Entry kEntries[] = {
    {"llama", "LlamaForCausalLM", make_llama_architecture},
    {"qwen2", "Qwen2ForCausalLM", make_qwen2_architecture},
    {"deepseek2", "DeepseekV2ForCausalLM", make_deepseek2_architecture},
};

std::string joined(bool hf) {
  std::string s;
  for (const Entry& e : kEntries) s += (s.empty() ? "" : ", ") + std::string(hf ? e.hf_class : e.gguf_name);
  return s;
}

}  // namespace

std::unique_ptr<Architecture> create_architecture(std::string_view gguf_name) {
  for (const Entry& e : kEntries)
    if (e.gguf_name == gguf_name) return e.make();
  fail("unknown model architecture '{}' (supported: {})", gguf_name, joined(false));
}

std::unique_ptr<Architecture> create_architecture_for_hf(std::string_view hf_class) {
  for (const Entry& e : kEntries)
    if (e.hf_class == hf_class) return e.make();
  fail("unsupported Hugging Face architecture '{}' (supported: {})", hf_class, joined(true));
}

std::vector<std::string_view> supported_architectures() {
  std::vector<std::string_view> names;
  for (const Entry& e : kEntries) names.push_back(e.gguf_name);
  return names;
}

}  // namespace edgellm::model
