// `edgellm serve -m MODEL.gguf [--host H] [--port P] [--parallel N] [-c CTX] [--api-key KEY]
// [-t THREADS]`: an OpenAI-compatible HTTP server with continuous batching (docs/SERVER.md).
// SIGTERM or SIGINT stops accepting connections; requests in flight finish first.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "chat/template_source.h"
#include "commands.h"
#include "model_source.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/thread_pool.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::cli {

namespace {

struct ServeArgs {
  std::string model;
  std::string alias;
  server::HttpOptions http;
  server::SchedulerOptions scheduler;
  std::string kv_type = "f16";
  int threads = 0;
  int64_t ctx = 0;
};

// Waits for SIGTERM/SIGINT on its own thread (the signals are blocked everywhere else, so no
// async-signal-safety rules apply) and stops the server.
class ShutdownOnSignal {
 public:
  explicit ShutdownOnSignal(server::HttpServer& http) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGINT);
    thread_ = std::thread([this, &http] {
      int sig = 0;
      sigwait(&signals_, &sig);
      if (done_) return;
      std::fprintf(stderr, "serve: signal %d: not accepting new connections, finishing requests in flight\n", sig);
      http.shutdown();
    });
  }
  ~ShutdownOnSignal() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait if no signal came
    thread_.join();
  }
  // Called before any thread starts, so every thread inherits the blocked mask.
  static void block_signals() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a client closing its socket must not kill the server
  }

 private:
  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void serve(ServeArgs& a) {
  ShutdownOnSignal::block_signals();
  const auto start = std::chrono::steady_clock::now();
  const std::string model_path = resolve_model_path(a.model);  // "" = the bundled default model
  const auto model = model::Model::load(model_path);
  const Tokenizer tokenizer = Tokenizer::from_gguf(model->file());
  const chat::ChatTemplateSource tmpl = chat::chat_template_from_gguf(model->file());
  if (tmpl.is_default)
    std::fprintf(stderr, "serve: the model has no chat template, so it is served as a completion model "
                         "(POST /v1/completions); /v1/chat/completions formats messages with the default "
                         "ChatML template (see docs/CHAT_TEMPLATES.md)\n");
  a.scheduler.n_ctx = a.ctx > 0 ? a.ctx : std::min<int64_t>(model->config().n_ctx_train, 4096);
  a.scheduler.kv_type = runtime::kv_type_from_name(a.kv_type);
  if (a.http.model_id.empty())
    a.http.model_id = a.alias.empty() ? std::filesystem::path(model_path).stem().string() : a.alias;

  runtime::ThreadPool pool(a.threads);
  server::Metrics metrics;
  server::Scheduler scheduler(*model, tokenizer, pool, a.scheduler, metrics);
  server::HttpServer http(a.http, scheduler, tokenizer, tmpl, metrics);
  const int port = http.bind();
  const server::SchedulerGauges g = scheduler.gauges();
  const std::string padding = scheduler.step_row_multiple() == 1
                                  ? "batch-invariant kernels, steps unpadded"
                                  : fmt::format("steps padded to {} token rows for batch invariance",
                                                scheduler.step_row_multiple());
  std::fprintf(stderr,
               "serve: model '%s' (%s), %d slots, context %lld, KV pool %lld blocks of %lld positions, %d threads, "
               "%s; listening on http://%s:%d (ready in %.2f s)\n",
               a.http.model_id.c_str(), std::string(model->architecture().name()).c_str(), a.scheduler.parallel,
               static_cast<long long>(a.scheduler.n_ctx), static_cast<long long>(g.kv_blocks_total),
               static_cast<long long>(g.kv_block_size), pool.size(),
               padding.c_str(), a.http.host.c_str(), port,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  {
    ShutdownOnSignal on_signal(http);
    http.listen();
  }
  scheduler.stop();
  std::fprintf(stderr, "serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server with continuous batching");
  cmd->add_option("-m,--model", a->model,
                 "GGUF model: a path, hf://OWNER/REPO/FILE.gguf or an https URL (default: the bundled model)");
  cmd->add_option("--host", a->http.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", a->http.port, "Port (0: any free port)")->capture_default_str();
  cmd->add_option("--parallel", a->scheduler.parallel, "Requests generated at once")->capture_default_str();
  cmd->add_option("-c,--ctx-size", a->ctx, "Most positions of one request (default: training context, at most 4096)");
  cmd->add_option("--kv-size", a->scheduler.kv_positions, "Positions in the shared KV pool (default: parallel x ctx)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->add_option("--api-key", a->http.api_key, "Require 'Authorization: Bearer KEY'");
  cmd->add_option("--alias", a->alias, "Model name for the API (default: the file name without .gguf)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--batch", a->scheduler.max_step_tokens, "Most tokens per batched step")->capture_default_str();
  cmd->add_option("--prefill-chunk", a->scheduler.prefill_chunk, "Most prompt tokens of one request per step")
      ->capture_default_str();
  cmd->add_option("--max-body", a->http.max_body_bytes, "Largest request body in bytes")->capture_default_str();
  cmd->add_flag("!--no-log", a->http.log_requests, "Do not log one line per request");
  cmd->add_flag("!--no-batch-invariance", a->scheduler.batch_invariant,
                "Never pad steps for formats whose kernels are not batch-invariant on this CPU (faster small "
                "steps, but a request's output may then depend on what shares its steps)");
  cmd->callback([a] { serve(*a); });
}

const CommandRegistration kRegisterServe(22, add_serve_command);

}  // namespace edgellm::cli
