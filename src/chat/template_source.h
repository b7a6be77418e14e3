// Where a model's chat template comes from: the `tokenizer.chat_template` key of a GGUF file,
// or `chat_template` in a Hugging Face tokenizer_config.json (string, or a list of named
// templates of which "default" is used). Models without one get kDefaultChatTemplate, and
// `is_default` tells the caller so it can say so.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace edgellm::gguf {
class GgufFile;
}

namespace edgellm::chat {

struct ChatTemplateSource {
  std::string source;
  bool is_default = false;  // the model had no template; source is kDefaultChatTemplate
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

ChatTemplateSource chat_template_from_gguf(const gguf::GgufFile& file);
ChatTemplateSource chat_template_from_tokenizer_config(const nlohmann::ordered_json& config);

// Loads from a .gguf file or a tokenizer_config.json (decided by the file's first bytes).
// For tokenizer_config.json without a template, a chat_template.jinja next to it is used.
ChatTemplateSource load_chat_template_source(const std::string& path);

}  // namespace edgellm::chat
