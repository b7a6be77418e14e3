// `edgellm perplexity -m MODEL.gguf -f TEXT [-c CTX]`: perplexity as llama.cpp's perplexity tool
// computes it: the tokenized text is cut into non-overlapping windows of CTX tokens, the first
// token of each window is replaced by BOS (when the model adds one), and only the second half
// of each window is scored (each of those tokens has at least CTX/2 tokens of context).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::cli {

namespace {

struct PerplexityArgs {
  std::string model;
  std::string text_file;
  int64_t ctx = 512;
  int threads = 0;
  std::string kv_type = "f16";
  int64_t max_chunks = 0;
};

void perplexity(const PerplexityArgs& a) {
  std::ifstream in(a.text_file, std::ios::binary);
  if (!in) fail("cannot read text file {}", a.text_file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  const auto model = model::Model::load(a.model);
  const Tokenizer tokenizer = Tokenizer::from_gguf(model->file());
  if (a.ctx < 4) fail("-c {} is too small for perplexity (at least 4)", a.ctx);
  runtime::ThreadPool pool(a.threads);
  runtime::SessionParams params;
  params.n_ctx = a.ctx;
  params.kv_type = runtime::kv_type_from_name(a.kv_type);
  runtime::Session session(*model, params, pool);

  const std::vector<int32_t> tokens = tokenizer.encode(text, true, false);
  const int64_t n_ctx = a.ctx;
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (n_chunks == 0)
    fail("{} has {} tokens; perplexity needs at least one window of -c {} tokens", a.text_file,
         tokens.size(), n_ctx);
  if (a.max_chunks > 0) n_chunks = std::min(n_chunks, a.max_chunks);
  const bool add_bos = tokenizer.add_bos() && tokenizer.bos_id() >= 0;
  const int64_t first = n_ctx / 2;
  const int64_t n_vocab = model->config().n_vocab;
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %lld, scoring the last %lld of each\n",
               tokens.size(), static_cast<long long>(n_chunks), static_cast<long long>(n_ctx),
               static_cast<long long>(n_ctx - 1 - first));

  double nll = 0.0, nll2 = 0.0;
  int64_t count = 0;
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> window(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (add_bos) window[0] = tokenizer.bos_id();
    session.reset();
    // Logit rows for positions first .. n_ctx-1; row j - first predicts window[j + 1].
    const std::span<const float> logits = session.eval(window, n_ctx - first);
    for (int64_t j = first; j < n_ctx - 1; ++j) {
      const float* row = logits.data() + (j - first) * n_vocab;
      double max = row[0];
      for (int64_t v = 1; v < n_vocab; ++v) max = std::max(max, static_cast<double>(row[v]));
      double sum = 0.0;
      for (int64_t v = 0; v < n_vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - max);
      const double v = std::log(sum) + max - row[window[static_cast<size_t>(j + 1)]];
      nll += v;
      nll2 += v * v;
      ++count;
    }
    std::printf("[%lld]%.4f,", static_cast<long long>(c + 1), std::exp(nll / static_cast<double>(count)));
    std::fflush(stdout);
  }
  std::printf("\n");
  const double mean = nll / static_cast<double>(count);
  const double ppl = std::exp(mean);
  double var = nll2 / static_cast<double>(count) - mean * mean;
  const double err = var > 0.0 && count > 1 ? std::sqrt(var / static_cast<double>(count - 1)) * ppl : 0.0;
  std::printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, err);
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model over a text file");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("-f,--file", a->text_file, "Text file")->required();
  cmd->add_option("-c,--ctx-size", a->ctx, "Window size in tokens")->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->add_option("--chunks", a->max_chunks, "Score at most this many windows (0 = all)");
  cmd->callback([a] { perplexity(*a); });
}

}  // namespace edgellm::cli
