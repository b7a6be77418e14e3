// Chat templates: turning a conversation into the prompt text a model was trained on, by
// rendering the model's own Jinja template (tokenizer.chat_template) exactly as Hugging Face's
// transformers does (see docs/CHAT_TEMPLATES.md for what is covered and the limits).
//
//   edgellm::chat::ChatTemplate tmpl(source);            // parse once (throws on syntax errors)
//   std::string prompt = tmpl.render(context);            // render many times, thread-safe
//
//   // or, with the variables apply_chat_template() passes:
//   edgellm::chat::ChatTemplateInputs in;
//   in.messages = nlohmann::ordered_json::parse(R"([{"role":"user","content":"Hi"}])");
//   in.extra_context["enable_thinking"] = false;
//   std::string prompt = edgellm::chat::apply_chat_template(source, in);
//
// Errors (syntax, runtime, raise_exception(), exceeded limits) throw edgellm::Error with the
// template line and column.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chat/render_options.h"

namespace edgellm::chat {

namespace jinja {
struct Program;
}

// Used when a model ships no chat template: ChatML, which most instruction-tuned models
// without a template of their own follow.
//   <|im_start|>{role}\n{content}<|im_end|>\n ... and "<|im_start|>assistant\n" to prompt.
inline constexpr std::string_view kDefaultChatTemplate =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

class ChatTemplate {
 public:
  // Parses the template. Throws edgellm::Error naming line and column on syntax errors, on
  // include/import/extends (no I/O is done) and on unknown filters or tests.
  explicit ChatTemplate(std::string_view source);

  // Renders with the variables in `context` (a JSON object; key order is kept, like Python
  // dicts). Safe to call concurrently on one ChatTemplate.
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options = {}) const;

  const std::string& source() const;  // after newline normalization

 private:
  std::shared_ptr<const jinja::Program> program_;
};

// The variables transformers' apply_chat_template() hands to the template.
struct ChatTemplateInputs {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  // JSON tool schemas. Without tools the template sees tools=None (defined, but none), as in
  // transformers, so `tools is not none` and `if tools` both work.
  std::optional<nlohmann::ordered_json> tools;
  bool add_generation_prompt = true;
  std::optional<std::string> bos_token;  // omitted from the context when absent
  std::optional<std::string> eos_token;
  // Any further keyword arguments, e.g. {"enable_thinking": false}; they override the above.
  nlohmann::ordered_json extra_context = nlohmann::ordered_json::object();
};

// Builds the context: messages, tools, documents (None), add_generation_prompt, bos_token,
// eos_token, then extra_context.
nlohmann::ordered_json make_chat_context(const ChatTemplateInputs& inputs);

std::string apply_chat_template(std::string_view template_source, const ChatTemplateInputs& inputs,
                                const RenderOptions& options = {});

// The same, with the arguments spelled out like transformers' apply_chat_template().
std::string apply_chat_template(std::string_view template_source, const nlohmann::ordered_json& messages,
                                const std::optional<nlohmann::ordered_json>& tools, bool add_generation_prompt,
                                const std::optional<std::string>& bos_token,
                                const std::optional<std::string>& eos_token,
                                const nlohmann::ordered_json& extra_context = nlohmann::ordered_json::object(),
                                const RenderOptions& options = {});

}  // namespace edgellm::chat
