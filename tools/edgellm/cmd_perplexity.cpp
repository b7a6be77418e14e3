// `edgellm perplexity -m MODEL.gguf -f TEXT [-c CTX]`: perplexity as llama.cpp's perplexity tool
// computes it: the text (tokenized with BOS when the model adds one) must hold at least 2·CTX
// tokens; it is cut into non-overlapping windows of CTX tokens (a partial last window is
// dropped), the first token of each window is replaced by BOS (when the model adds one), and
// only the second half of each window is scored (each of those tokens has at least CTX/2 tokens
// of context). The last line is llama.cpp's "Final estimate: PPL = X +/- Y".
// --kl-base FILE also saves the scored positions' log-probabilities; a later run with
// --kl-compare FILE evaluates the same tokens and reports KL divergence, PPL ratio and top-token
// agreement against them (src/quantize/kl_divergence.h; files interchange with llama-perplexity).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "quantize/kl_divergence.h"
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
  std::string kl_base, kl_compare, kl_format = "exact";
};

std::vector<int32_t> tokenize_file(const std::string& path, const Tokenizer& tokenizer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read text file {}", path);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return tokenizer.encode(text, true, false);
}

void perplexity(const PerplexityArgs& a) {
  if (a.text_file.empty() && a.kl_compare.empty()) fail("perplexity needs -f TEXT (or --kl-compare FILE)");
  if (!a.kl_base.empty() && !a.kl_compare.empty()) fail("--kl-base and --kl-compare cannot be used together");
  if (a.kl_format != "exact" && a.kl_format != "llamacpp") fail("--kl-format must be exact or llamacpp");
  // Comparing: the tokens and the window size come from the base file, as in llama.cpp.
  std::optional<quantize::KlBaseReader> base;
  if (!a.kl_compare.empty()) base.emplace(a.kl_compare);

  const auto model = model::Model::load(a.model);
  const Tokenizer tokenizer = Tokenizer::from_gguf(model->file());
  const int64_t n_ctx = base ? base->n_ctx() : a.ctx;
  if (n_ctx < 4) fail("-c {} is too small for perplexity (at least 4)", n_ctx);
  runtime::ThreadPool pool(a.threads);
  runtime::SessionParams params;
  params.n_ctx = n_ctx;
  params.kv_type = runtime::kv_type_from_name(a.kv_type);
  runtime::Session session(*model, params, pool);

  // llama.cpp asserts that the vocabulary adds no EOS (it would end the text with one).
  if (!base && tokenizer.add_eos())
    fail("perplexity: this model's tokenizer appends EOS to the text, which llama.cpp's perplexity refuses too");
  const std::vector<int32_t> tokens = base ? base->tokens() : tokenize_file(a.text_file, tokenizer);
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  // llama.cpp's rule (and message): at least two windows of text.
  if (!base && static_cast<int64_t>(tokens.size()) < 2 * n_ctx)
    fail("you need at least {} tokens to evaluate perplexity with a context of {}; {} tokenizes to only {} tokens",
         2 * n_ctx, n_ctx, a.text_file, tokens.size());
  if (n_chunks == 0) fail("{} holds {} tokens, less than one window of {}", a.kl_compare, tokens.size(), n_ctx);
  if (a.max_chunks > 0) n_chunks = std::min(n_chunks, a.max_chunks);
  if (base && base->n_vocab() != model->config().n_vocab)
    fail("{} was saved for a vocabulary of {} tokens; this model has {}", a.kl_compare, base->n_vocab(),
         model->config().n_vocab);
  std::optional<quantize::KlBaseWriter> base_out;
  if (!a.kl_base.empty())
    base_out.emplace(a.kl_base, a.kl_format == "exact" ? quantize::KlFormat::Exact : quantize::KlFormat::LlamaCpp,
                     n_ctx, model->config().n_vocab,
                     std::span<const int32_t>(tokens.data(), static_cast<size_t>(n_chunks * n_ctx)));
  quantize::KlAccumulator kl;
  std::vector<float> base_log_probs;
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
    // The last row predicts the token after the window, which is not scored.
    const auto scored = logits.first(static_cast<size_t>((n_ctx - 1 - first) * n_vocab));
    if (base_out) base_out->add_window(scored);
    if (base) {
      base->read_window(base_log_probs);
      const auto v = static_cast<size_t>(n_vocab);
      for (int64_t j = first; j < n_ctx - 1; ++j) {
        const auto row = static_cast<size_t>(j - first) * v;
        kl.add(std::span<const float>(base_log_probs).subspan(row, v), scored.subspan(row, v),
               window[static_cast<size_t>(j + 1)], base->log_prob_cutoff());
      }
    }
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
  if (base_out) {
    base_out->finish();
    std::printf("saved the log-probabilities of %lld tokens to %s\n", static_cast<long long>(count), a.kl_base.c_str());
  }
  if (base) std::printf("%s", quantize::format_kl_summary(kl.summary()).c_str());
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity of a model over a text file");
  cmd->add_option("-m,--model", a->model, "GGUF model file")->required();
  cmd->add_option("-f,--file", a->text_file, "Text file (not needed with --kl-compare)");
  cmd->add_option("-c,--ctx-size", a->ctx, "Window size in tokens")->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->add_option("--chunks", a->max_chunks, "Score at most this many windows (0 = all)");
  cmd->add_option("--kl-base", a->kl_base, "Save the scored log-probabilities to this file (reference model)");
  cmd->add_option("--kl-format", a->kl_format, "--kl-base payload: exact (float32) or llamacpp (uint16, llama-perplexity's)")
      ->capture_default_str();
  cmd->add_option("--kl-compare", a->kl_compare, "Compare against a --kl-base file: KL divergence, PPL ratio, top-1");
  cmd->callback([a] { perplexity(*a); });
}

const CommandRegistration kRegisterPerplexity(60, add_perplexity_command);

}  // namespace edgellm::cli
