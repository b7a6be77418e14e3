// `edgellm chat [-m MODEL] [--system TEXT] [-n N] [sampling flags] [-t THREADS] [-c CTX]`:
// an interactive conversation. Each turn the whole conversation is rendered with the model's
// chat template and tokenized; the tokens the session already holds are kept (the common
// prefix), so a turn only evaluates what is new. Replies stream to stdout; a line "/exit" or
// end of input ends the chat.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "commands.h"
#include "model_source.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "sampling/sampler.h"
#include "sampling_options.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::cli {

namespace {

struct ChatArgs {
  std::string model;
  std::string system;
  int64_t max_reply_tokens = 512;
  SamplingFlags sampling;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
};

void print(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Tokens of the rendered conversation. Templates usually write the BOS text themselves; BOS is
// added by us only when the model wants one and the text does not already start with it.
std::vector<int32_t> tokenize_prompt(const Tokenizer& tokenizer, const std::string& text) {
  std::vector<int32_t> ids = tokenizer.encode(text, false, true);
  const int32_t bos = tokenizer.bos_id();
  const bool model_adds_bos = !tokenizer.encode("", true, false).empty();
  if (model_adds_bos && bos >= 0 && (ids.empty() || ids.front() != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

class Conversation {
 public:
  Conversation(const model::Model& model, const Tokenizer& tokenizer, const ChatArgs& args,
               runtime::ThreadPool& pool)
      : tokenizer_(tokenizer),
        session_(model, session_params(args), pool),
        sampler_(args.sampling.params()),
        max_reply_tokens_(args.max_reply_tokens) {
    const chat::ChatTemplateSource src = chat::chat_template_from_gguf(model.file());
    if (src.is_default)
      std::fprintf(stderr, "chat: the model has no chat template; using the default ChatML template "
                           "(see docs/CHAT_TEMPLATES.md)\n");
    template_ = std::make_unique<chat::ChatTemplate>(src.source);
    inputs_.bos_token = src.bos_token;
    inputs_.eos_token = src.eos_token;
    if (!args.system.empty()) inputs_.messages.push_back({{"role", "system"}, {"content", args.system}});
  }

  // Adds the user's message, generates and streams the reply, and keeps it in the history.
  void turn(const std::string& user_text) {
    inputs_.messages.push_back({{"role", "user"}, {"content", user_text}});
    inputs_.add_generation_prompt = true;
    const std::vector<int32_t> prompt = tokenize_prompt(tokenizer_, template_->render(chat::make_chat_context(inputs_)));
    if (static_cast<int64_t>(prompt.size()) >= session_.n_ctx()) {
      inputs_.messages.erase(inputs_.messages.end() - 1);
      fail("the conversation is {} tokens, which does not fit in the context of {} tokens (use -c)",
           prompt.size(), session_.n_ctx());
    }
    std::span<const float> logits = feed(prompt);
    std::string reply;
    StreamDecoder decoder(tokenizer_);
    for (int64_t n = 0; n < max_reply_tokens_; ++n) {
      const int32_t token = sampler_.sample(logits);
      sampler_.accept(token);
      if (tokenizer_.is_end_of_generation(token)) break;
      const std::string piece = decoder.push(token);
      reply += piece;
      print(piece);
      if (session_.n_past() >= session_.n_ctx()) {
        std::fprintf(stderr, "\n[context of %lld tokens is full]\n", static_cast<long long>(session_.n_ctx()));
        break;
      }
      fed_.push_back(token);
      logits = session_.eval(std::span<const int32_t>(&token, 1));
    }
    const std::string rest = decoder.flush();
    reply += rest;
    print(rest + "\n");
    inputs_.messages.push_back({{"role", "assistant"}, {"content", reply}});
  }

 private:
  static runtime::SessionParams session_params(const ChatArgs& args) {
    runtime::SessionParams p;
    p.n_ctx = args.ctx;
    p.kv_type = runtime::kv_type_from_name(args.kv_type);
    return p;
  }

  // Evaluates only what the session does not already hold: the tokens after the longest common
  // prefix of what was fed before and the new prompt.
  std::span<const float> feed(const std::vector<int32_t>& prompt) {
    size_t keep = 0;
    while (keep < fed_.size() && keep < prompt.size() && fed_[keep] == prompt[keep]) ++keep;
    if (keep == prompt.size()) --keep;  // the last token must be evaluated to get logits
    if (keep < fed_.size()) {           // diverged: the cache holds no usable suffix, start over
      session_.reset();
      fed_.clear();
      keep = 0;
    }
    const std::span<const int32_t> todo(prompt.data() + keep, prompt.size() - keep);
    for (int32_t t : todo) sampler_.accept(t);
    fed_.insert(fed_.end(), todo.begin(), todo.end());
    return session_.eval(todo);
  }

  const Tokenizer& tokenizer_;
  runtime::Session session_;
  Sampler sampler_;
  int64_t max_reply_tokens_;
  std::unique_ptr<chat::ChatTemplate> template_;
  chat::ChatTemplateInputs inputs_;
  std::vector<int32_t> fed_;  // tokens in the session's KV cache, in order
};

void chat_loop(const ChatArgs& args) {
  if (args.max_reply_tokens <= 0) fail("-n {} must be positive", args.max_reply_tokens);
  const auto model = model::Model::load(resolve_model_path(args.model));
  const Tokenizer tokenizer = Tokenizer::from_gguf(model->file());
  runtime::ThreadPool pool(args.threads);
  Conversation conversation(*model, tokenizer, args, pool);
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) std::fprintf(stderr, "chat: type a message, /exit to quit\n");
  std::string line;
  while (true) {
    if (interactive) print("> ");
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line.empty()) continue;
    conversation.turn(line);
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* cmd = app.add_subcommand("chat", "Interactive chat with the model's chat template");
  cmd->add_option("-m,--model", a->model,
                  "GGUF file, hf://OWNER/REPO/FILE.gguf or https:// URL (default: the bundled model)");
  cmd->add_option("--system", a->system, "System prompt");
  cmd->add_option("-n,--n-predict", a->max_reply_tokens, "Most tokens per reply")->capture_default_str();
  a->sampling.add_to(*cmd);
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("-c,--ctx-size", a->ctx, "Context size (default: training context, at most 4096)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->callback([a] { chat_loop(*a); });
}

const CommandRegistration kRegisterChat(20, add_chat_command);

}  // namespace edgellm::cli
