#include "chat/template_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "core/error.h"
#include "gguf/gguf_file.h"

namespace edgellm::chat {

namespace {

std::optional<std::string> token_text(const gguf::GgufFile& file, std::string_view id_key) {
  const gguf::Value* id = file.find(id_key);
  const gguf::Value* tokens = file.find("tokenizer.ggml.tokens");
  if (id == nullptr || tokens == nullptr) return std::nullopt;
  const int64_t index = id->as_int();
  const gguf::Array& vocab = tokens->as_array();
  if (index < 0 || static_cast<uint64_t>(index) >= vocab.size()) {
    fail("GGUF {} = {} is outside the vocabulary of {} tokens", id_key, index, vocab.size());
  }
  return std::string(vocab.string_at(static_cast<size_t>(index)));
}

// AddedToken entries are either "text" or {"content": "text", ...}; null means no token.
std::optional<std::string> config_token(const nlohmann::ordered_json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  fail("tokenizer_config.json: '{}' must be a string or an object with \"content\"", key);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}'", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

ChatTemplateSource default_source() {
  ChatTemplateSource out;
  out.source = std::string(kDefaultChatTemplate);
  out.is_default = true;
  return out;
}

}  // namespace

ChatTemplateSource chat_template_from_gguf(const gguf::GgufFile& file) {
  ChatTemplateSource out;
  const gguf::Value* tmpl = file.find("tokenizer.chat_template");
  if (tmpl == nullptr) {
    out = default_source();
  } else {
    out.source = tmpl->as_string();
  }
  out.bos_token = token_text(file, "tokenizer.ggml.bos_token_id");
  out.eos_token = token_text(file, "tokenizer.ggml.eos_token_id");
  return out;
}

ChatTemplateSource chat_template_from_tokenizer_config(const nlohmann::ordered_json& config) {
  if (!config.is_object()) fail("tokenizer_config.json must hold a JSON object");
  ChatTemplateSource out;
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) {
    out = default_source();
  } else if (it->is_string()) {
    out.source = it->get<std::string>();
  } else if (it->is_array()) {
    std::string names;
    bool found = false;
    for (const auto& entry : *it) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
          !entry["name"].is_string() || !entry["template"].is_string()) {
        fail("tokenizer_config.json: chat_template list entries must be {{\"name\": ..., \"template\": ...}}");
      }
      names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
      if (entry["name"] == "default") {
        out.source = entry["template"].get<std::string>();
        found = true;
      }
    }
    if (!found) fail("tokenizer_config.json has named chat templates ({}) but none called 'default'", names);
  } else {
    fail("tokenizer_config.json: chat_template must be a string or a list, got {}", it->type_name());
  }
  out.bos_token = config_token(config, "bos_token");
  out.eos_token = config_token(config, "eos_token");
  return out;
}

ChatTemplateSource load_chat_template_source(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  if (!probe) fail("cannot open '{}'", path);
  char magic[4] = {};
  probe.read(magic, 4);
  if (probe.gcount() == 4 && std::string_view(magic, 4) == "GGUF") {
    return chat_template_from_gguf(gguf::GgufFile::open(path));
  }
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("'{}' is neither a GGUF file nor valid JSON: {}", path, e.what());
  }
  ChatTemplateSource out = chat_template_from_tokenizer_config(config);
  if (out.is_default) {
    const auto sibling = std::filesystem::path(path).parent_path() / "chat_template.jinja";
    if (std::filesystem::exists(sibling)) {
      out.source = read_file(sibling.string());
      out.is_default = false;
    }
  }
  return out;
}

}  // namespace edgellm::chat
