// `edgellm logits -m MODEL.gguf --tokens 1,2,3 --out FILE.f32 [--batch N]`: logits of every
// position as raw little-endian float32 (n_tokens × n_vocab), for checking against other
// implementations. --batch 1 runs the tokens one at a time (the decode path).
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace edgellm::cli {

namespace {

struct LogitsArgs {
  std::string model;
  std::string tokens;
  std::string out;
  int64_t batch = 0;
  int threads = 0;
  int64_t ctx = 0;
  std::string kv_type = "f16";
};

std::vector<int32_t> parse_token_list(const std::string& s) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    const char* b = s.data() + pos;
    const char* e = s.data() + comma;
    int32_t id = 0;
    auto [ptr, ec] = std::from_chars(b, e, id);
    if (b == e || ec != std::errc() || ptr != e)
      fail("--tokens: '{}' is not a token id (expected comma-separated integers)", std::string(b, e));
    ids.push_back(id);
    pos = comma + 1;
  }
  return ids;
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Write the logits of every position as raw float32");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("--tokens", args->tokens, "Comma-separated token ids")->required();
  cmd->add_option("--out", args->out, "Output file (n_tokens x n_vocab float32)")->required();
  cmd->add_option("--batch", args->batch, "Tokens per forward pass (default: all at once; 1 = decode)");
  cmd->add_option("-t,--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("-c,--ctx-size", args->ctx, "Context size (default: training context, at most 4096)");
  cmd->add_option("--kv-type", args->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->callback([args] {
    const std::vector<int32_t> tokens = parse_token_list(args->tokens);
    if (args->batch < 0) fail("--batch {} must be positive", args->batch);
    const auto model = model::Model::load(args->model);
    runtime::ThreadPool pool(args->threads);
    runtime::SessionParams params;
    params.n_ctx = args->ctx;
    params.kv_type = runtime::kv_type_from_name(args->kv_type);
    runtime::Session session(*model, params, pool);
    const auto n = static_cast<int64_t>(tokens.size());
    const int64_t batch = args->batch == 0 ? n : args->batch;
    if (n > session.n_ctx())
      fail("{} tokens do not fit in the context of {} (use -c)", n, session.n_ctx());
    std::vector<float> all;
    all.reserve(static_cast<size_t>(n * session.n_vocab()));
    for (int64_t b = 0; b < n; b += batch) {
      const int64_t count = std::min(batch, n - b);
      const auto logits = session.eval(std::span<const int32_t>(tokens).subspan(static_cast<size_t>(b), static_cast<size_t>(count)), count);
      all.insert(all.end(), logits.begin(), logits.end());
    }
    std::FILE* f = std::fopen(args->out.c_str(), "wb");
    if (f == nullptr) fail("cannot create {}: {}", args->out, std::strerror(errno));
    const size_t written = std::fwrite(all.data(), sizeof(float), all.size(), f);
    if (std::fclose(f) != 0 || written != all.size()) fail("writing {} failed", args->out);
    std::fprintf(stderr, "wrote %lld x %lld logits to %s\n", static_cast<long long>(n),
                 static_cast<long long>(session.n_vocab()), args->out.c_str());
  });
}

const CommandRegistration kRegisterLogits(65, add_logits_command);

}  // namespace edgellm::cli
