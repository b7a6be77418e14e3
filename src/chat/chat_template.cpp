#include "chat/chat_template.h"

#include "chat/interpreter.h"
#include "chat/parser.h"
#include "core/error.h"

namespace edgellm::chat {

ChatTemplate::ChatTemplate(std::string_view source) : program_(jinja::parse_template(source)) {}

std::string ChatTemplate::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!context.is_object()) fail("chat template context must be a JSON object, got {}", context.type_name());
  const jinja::Value variables = jinja::from_json(context);
  jinja::Interpreter interpreter(*program_, options);
  return interpreter.render(variables);
}

const std::string& ChatTemplate::source() const { return program_->source; }

nlohmann::ordered_json make_chat_context(const ChatTemplateInputs& inputs) {
  if (!inputs.messages.is_array()) fail("chat messages must be a JSON array, got {}", inputs.messages.type_name());
  if (!inputs.extra_context.is_object()) {
    fail("extra chat template variables must be a JSON object, got {}", inputs.extra_context.type_name());
  }
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = inputs.messages;
  context["tools"] = inputs.tools ? *inputs.tools : nlohmann::ordered_json(nullptr);
  context["documents"] = nullptr;
  context["add_generation_prompt"] = inputs.add_generation_prompt;
  if (inputs.bos_token) context["bos_token"] = *inputs.bos_token;
  if (inputs.eos_token) context["eos_token"] = *inputs.eos_token;
  for (const auto& [key, value] : inputs.extra_context.items()) context[key] = value;
  return context;
}

std::string apply_chat_template(std::string_view template_source, const ChatTemplateInputs& inputs,
                                const RenderOptions& options) {
  return ChatTemplate(template_source).render(make_chat_context(inputs), options);
}

std::string apply_chat_template(std::string_view template_source, const nlohmann::ordered_json& messages,
                                const std::optional<nlohmann::ordered_json>& tools, bool add_generation_prompt,
                                const std::optional<std::string>& bos_token,
                                const std::optional<std::string>& eos_token,
                                const nlohmann::ordered_json& extra_context, const RenderOptions& options) {
  ChatTemplateInputs inputs;
  inputs.messages = messages;
  inputs.tools = tools;
  inputs.add_generation_prompt = add_generation_prompt;
  inputs.bos_token = bos_token;
  inputs.eos_token = eos_token;
  inputs.extra_context = extra_context;
  return apply_chat_template(template_source, inputs, options);
}

}  // namespace edgellm::chat
