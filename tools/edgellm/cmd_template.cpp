// `edgellm template -m MODEL.gguf|tokenizer_config.json --messages FILE.json [--tools FILE.json]
//  [--no-generation-prompt] [--var KEY=JSON ...] [--chat-template FILE.jinja]`:
// renders the model's chat template for a conversation and prints the prompt exactly (no
// trailing newline is added). A model without a template gets the default ChatML template,
// and a note on stderr says so.
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "commands.h"
#include "core/error.h"

namespace edgellm::cli {
namespace {

using Json = nlohmann::ordered_json;

struct TemplateOptions {
  std::string model;
  std::string template_file;
  std::string messages_file;
  std::string tools_file;
  bool no_generation_prompt = false;
  std::vector<std::string> vars;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}'", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

Json read_json(const std::string& path) {
  try {
    return Json::parse(read_text(path));
  } catch (const nlohmann::json::exception& e) {
    fail("'{}' is not valid JSON: {}", path, e.what());
  }
}

void run_template(const TemplateOptions& opts) {
  if (opts.model.empty() && opts.template_file.empty()) fail("give a model with -m (or a template with --chat-template)");
  chat::ChatTemplateSource source;
  if (!opts.model.empty()) source = chat::load_chat_template_source(opts.model);
  if (!opts.template_file.empty()) {
    source.source = read_text(opts.template_file);
    source.is_default = false;
  } else if (opts.model.empty()) {
    source.source = std::string(chat::kDefaultChatTemplate);
  }
  if (source.is_default) {
    std::fprintf(stderr, "edgellm: note: '%s' has no chat template; using the default ChatML template\n",
                 opts.model.c_str());
  }

  chat::ChatTemplateInputs inputs;
  Json messages = read_json(opts.messages_file);
  // Accept a bare message list or an object like an OpenAI request body.
  if (messages.is_object() && messages.contains("messages")) {
    if (messages.contains("tools") && opts.tools_file.empty()) inputs.tools = messages["tools"];
    messages = messages["messages"];
  }
  if (!messages.is_array()) fail("'{}' must hold a JSON array of messages", opts.messages_file);
  inputs.messages = std::move(messages);
  if (!opts.tools_file.empty()) {
    inputs.tools = read_json(opts.tools_file);
    if (!inputs.tools->is_array()) fail("'{}' must hold a JSON array of tools", opts.tools_file);
  }
  inputs.add_generation_prompt = !opts.no_generation_prompt;
  inputs.bos_token = source.bos_token;
  inputs.eos_token = source.eos_token;
  for (const std::string& var : opts.vars) {
    const size_t eq = var.find('=');
    if (eq == std::string::npos || eq == 0) fail("--var expects KEY=JSON, got '{}'", var);
    const std::string key = var.substr(0, eq);
    try {
      inputs.extra_context[key] = Json::parse(var.substr(eq + 1));
    } catch (const nlohmann::json::exception&) {
      fail("--var {}: '{}' is not JSON (write strings quoted, e.g. {}='\"text\"')", key, var.substr(eq + 1), key);
    }
  }

  const std::string prompt = chat::apply_chat_template(source.source, inputs);
  if (std::fwrite(prompt.data(), 1, prompt.size(), stdout) != prompt.size()) fail("cannot write to stdout");
  std::fflush(stdout);
}

}  // namespace

void add_template_command(CLI::App& app) {
  auto opts = std::make_shared<TemplateOptions>();
  auto* cmd = app.add_subcommand("template", "Render a model's chat template for a conversation");
  cmd->add_option("-m,--model", opts->model, "GGUF model or tokenizer_config.json");
  cmd->add_option("--chat-template", opts->template_file, "Jinja template file to use instead of the model's");
  cmd->add_option("--messages", opts->messages_file, "JSON file: array of {role, content, ...} messages")->required();
  cmd->add_option("--tools", opts->tools_file, "JSON file: array of tool schemas");
  cmd->add_flag("--no-generation-prompt", opts->no_generation_prompt, "Do not open an assistant turn at the end");
  cmd->add_option("--var", opts->vars, "Extra template variable KEY=JSON (repeatable), e.g. enable_thinking=false");
  cmd->callback([opts] { run_template(*opts); });
}

const CommandRegistration kRegisterTemplate(90, add_template_command);

}  // namespace edgellm::cli
