// `edgellm imatrix -m MODEL.gguf -f CALIB.txt -o imatrix.dat [-c CTX] [--chunks N] [-t N]
// [--process-output]`: run calibration text through the model and save, for every weight
// matrix, the mean of x_j² over the tokens for each input column j (llama.cpp's importance
// matrix, legacy .dat format). Like llama-imatrix, the text is cut into windows of CTX tokens,
// each starting with BOS when the model uses one, and every token of a window is counted.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "model/model.h"
#include "quantize/imatrix.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::cli {

namespace {

struct ImatrixArgs {
  std::string model, text_file, out = "imatrix.dat";
  int64_t ctx = 512;
  int64_t max_chunks = 0;
  int threads = 0;
  bool process_output = false;
};

void run_imatrix(const ImatrixArgs& a) {
  std::ifstream in(a.text_file, std::ios::binary);
  if (!in) fail("cannot read calibration text {}", a.text_file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (a.ctx < 16) fail("-c {} is too small: llama.cpp ignores batches under 16 tokens", a.ctx);

  const auto model = model::Model::load(a.model);
  const Tokenizer tokenizer = Tokenizer::from_gguf(model->file());
  const std::vector<int32_t> tokens = tokenizer.encode(text, true, false);
  int64_t n_chunks = static_cast<int64_t>(tokens.size()) / a.ctx;
  if (n_chunks == 0)
    fail("{} has {} tokens; imatrix needs at least one window of -c {} tokens", a.text_file, tokens.size(), a.ctx);
  if (a.max_chunks > 0) n_chunks = std::min(n_chunks, a.max_chunks);

  runtime::ThreadPool pool(a.threads);
  runtime::SessionParams params;
  params.n_ctx = a.ctx;
  runtime::Session session(*model, params, pool);
  quantize::ImatrixCollector::Options options;
  options.include_output = a.process_output;
  quantize::ImatrixCollector collector(options);
  session.set_matmul_observer(&collector);

  const bool add_bos = tokenizer.add_bos() && tokenizer.bos_id() >= 0;
  std::fprintf(stderr, "imatrix: %zu tokens, %lld chunks of %lld\n", tokens.size(),
               static_cast<long long>(n_chunks), static_cast<long long>(a.ctx));
  const auto start = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::vector<int32_t> window(tokens.begin() + c * a.ctx, tokens.begin() + (c + 1) * a.ctx);
    if (add_bos) window[0] = tokenizer.bos_id();
    session.reset();
    // The LM head only sees the rows whose logits are asked for; ask for all when it is observed.
    session.eval(window, a.process_output ? a.ctx : 1);
    std::fprintf(stderr, "[%lld/%lld]", static_cast<long long>(c + 1), static_cast<long long>(n_chunks));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const quantize::ImatrixData data = collector.result(a.ctx, static_cast<int32_t>(n_chunks), a.text_file);
  quantize::save_imatrix(data, a.out);
  std::fprintf(stderr, "\nimatrix: %zu entries from %lld chunks (%.2f s) saved to %s\n", data.importance.size(),
               static_cast<long long>(n_chunks), seconds, a.out.c_str());
}

}  // namespace

void add_imatrix_command(CLI::App& app) {
  auto a = std::make_shared<ImatrixArgs>();
  CLI::App* cmd = app.add_subcommand("imatrix", "Collect an importance matrix for quantization (llama.cpp .dat format)");
  cmd->add_option("-m,--model", a->model, "GGUF model file (preferably unquantized)")->required();
  cmd->add_option("-f,--file", a->text_file, "Calibration text")->required();
  cmd->add_option("-o,--output", a->out, "Output file")->capture_default_str();
  cmd->add_option("-c,--ctx-size", a->ctx, "Tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", a->max_chunks, "Process at most this many chunks (0 = all)");
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_flag("--process-output", a->process_output, "Also collect output.weight (llama-imatrix --process-output)");
  cmd->callback([a] { run_imatrix(*a); });
}

const CommandRegistration kRegisterImatrix(55, add_imatrix_command);

}  // namespace edgellm::cli
