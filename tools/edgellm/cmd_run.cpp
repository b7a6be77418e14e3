// `edgellm run [-m MODEL] -p PROMPT [-n N] [sampling options] [--stop STR ...] [-t THREADS]
// [-c CTX] [--kv-type f16|f32]`: prefill the prompt in one batch, then decode token by token,
// streaming text to stdout; timing and peak memory go to stderr at the end.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "model_source.h"
#include "sampling_options.h"
#include "core/error.h"
#include "model/footprint.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "sampling/sampler.h"
#include "sampling/stop_matcher.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::cli {

namespace {

struct RunArgs {
  std::string model;
  std::string prompt;
  int64_t n_predict = 128;
  SamplingFlags sampling;
  std::vector<std::string> stop;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void print(const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

void run(const RunArgs& a) {
  if (a.n_predict < 0) fail("-n {} must not be negative", a.n_predict);
  Sampler sampler(a.sampling.params());  // validates the options before the model is loaded
  StopMatcher stop(a.stop);

  const auto load_start = Clock::now();
  const auto model = model::Model::load(resolve_model_path(a.model));
  const Tokenizer tokenizer = Tokenizer::from_gguf(model->file());
  runtime::ThreadPool pool(a.threads);
  runtime::SessionParams params;
  params.n_ctx = a.ctx;
  params.kv_type = runtime::kv_type_from_name(a.kv_type);
  runtime::Session session(*model, params, pool);
  const double load_s = seconds_since(load_start);

  const std::vector<int32_t> prompt = tokenizer.encode(a.prompt, true, false);
  if (prompt.empty()) fail("the prompt is empty and the model adds no BOS token");
  if (static_cast<int64_t>(prompt.size()) >= session.n_ctx())
    fail("the prompt is {} tokens, which does not fit in the context of {} tokens (use -c)",
         prompt.size(), session.n_ctx());
  for (int32_t t : prompt) sampler.accept(t);
  print(a.prompt);

  const auto prefill_start = Clock::now();
  std::span<const float> logits = session.eval(prompt);
  const double prefill_s = seconds_since(prefill_start);

  StreamDecoder decoder(tokenizer);
  int64_t n_generated = 0;
  double decode_s = 0.0;
  bool stopped = false;
  while (n_generated < a.n_predict) {
    const int32_t token = sampler.sample(logits);
    sampler.accept(token);
    ++n_generated;
    if (tokenizer.is_end_of_generation(token)) break;
    const StopMatcher::Result r = stop.push(decoder.push(token));
    print(r.text);
    if (r.stopped) {
      stopped = true;
      break;
    }
    if (n_generated == a.n_predict) break;
    if (session.n_past() >= session.n_ctx()) {
      std::fprintf(stderr, "\n[context of %lld tokens is full]\n", static_cast<long long>(session.n_ctx()));
      break;
    }
    const auto t0 = Clock::now();
    logits = session.eval(std::span<const int32_t>(&token, 1));
    decode_s += seconds_since(t0);
  }
  if (!stopped) print(stop.push(decoder.flush()).text + stop.flush());
  print("\n");

  // n_generated sampled tokens needed n_generated - 1 decode passes (the first came from prefill).
  const int64_t n_decoded = std::max<int64_t>(0, n_generated - 1);
  std::fprintf(stderr, "\nload: %.3f s | prompt: %zu tokens, %.2f tokens/s | generation: %lld tokens, %.2f tokens/s | peak RSS: %.1f MiB\n",
               load_s, prompt.size(), static_cast<double>(prompt.size()) / std::max(prefill_s, 1e-9),
               static_cast<long long>(n_generated),
               n_decoded > 0 ? static_cast<double>(n_decoded) / std::max(decode_s, 1e-9) : 0.0,
               peak_rss_mib());
  // What one token costs in memory: its KV cache rows and the weights its forward pass reads.
  const size_t kv_bytes = session.kv_cache().bytes_per_token();
  std::fprintf(stderr, "KV cache: %zu values, %zu bytes/token (%s) | weights read per token: %.1f MiB of %.1f MiB\n",
               kv_bytes / (params.kv_type == runtime::KvType::F16 ? 2 : 4), kv_bytes,
               std::string(runtime::kv_type_name(params.kv_type)).c_str(),
               static_cast<double>(model::active_weight_bytes_per_token(*model)) / (1024.0 * 1024.0),
               static_cast<double>(model->weight_bytes()) / (1024.0 * 1024.0));
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt");
  cmd->add_option("-m,--model", a->model,
                  "GGUF file, hf://OWNER/REPO/FILE.gguf or https:// URL (default: the bundled model)");
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text")->required();
  cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate")->capture_default_str();
  a->sampling.add_to(*cmd);
  cmd->add_option("--stop", a->stop, "Stop string (repeatable)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("-c,--ctx-size", a->ctx, "Context size (default: training context, at most 4096)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->callback([a] { run(*a); });
}

const CommandRegistration kRegisterRun(10, add_run_command);

}  // namespace edgellm::cli
