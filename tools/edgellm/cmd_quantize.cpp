// `edgellm quantize IN.gguf OUT.gguf TYPE [--threads N] [--imatrix FILE] [--keep-output-f16]`:
// re-encode a model's weights in a smaller format, tensor by tensor, with llama.cpp's per-tensor
// choices for its mixtures (docs/QUANTIZATION.md). Progress per tensor and the size before and
// after go to stdout; fallbacks to a type that fits the rows are reported as they happen.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "core/error.h"
#include "quantize/imatrix.h"
#include "quantize/quantize.h"
#include "runtime/thread_pool.h"

namespace edgellm::cli {

namespace {

struct QuantizeArgs {
  std::string in, out, type;
  int threads = 0;
  std::string imatrix;
  bool keep_output_f16 = false;
};

double mib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

void print_tensor(const quantize::TensorReport& r) {
  const std::string dims = fmt::format("[{}]", fmt::join(r.dims, ", "));
  std::string line = fmt::format("[{:4}/{:4}] {:<36} {:<18} {:>6} -> {:<6} {:9.3f} MiB -> {:9.3f} MiB", r.index + 1,
                                 r.count, r.name, dims, type_name(r.from), type_name(r.to), mib(r.bytes_in),
                                 mib(r.bytes_out));
  if (r.used_imatrix) line += " (imatrix)";
  if (r.preferred)
    line += fmt::format("  [fallback: {} needs rows that are a multiple of {}, these have {}]",
                        type_name(*r.preferred), traits(*r.preferred).block_size, r.dims[0]);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void run_quantize(const QuantizeArgs& a) {
  quantize::QuantizeOptions options;
  options.scheme = quantize::parse_scheme(a.type);
  options.keep_output_f16 = a.keep_output_f16;
  std::optional<quantize::ImatrixData> imatrix;
  if (!a.imatrix.empty()) {
    imatrix = quantize::load_imatrix(a.imatrix);
    options.imatrix = &*imatrix;
    options.imatrix_file = a.imatrix;
    std::printf("imatrix: %zu entries from %s (%d chunks of %s)\n", imatrix->importance.size(), a.imatrix.c_str(),
                imatrix->n_chunks, imatrix->dataset.empty() ? "?" : imatrix->dataset.c_str());
  }
  runtime::ThreadPool pool(a.threads);
  std::printf("quantizing %s -> %s as %s (%s) with %d threads\n", a.in.c_str(), a.out.c_str(),
              options.scheme.name.c_str(), options.scheme.mixture ? "llama.cpp mixture" : "single format",
              pool.size());
  const auto start = std::chrono::steady_clock::now();
  const quantize::QuantizeSummary s = quantize::quantize_model(a.in, a.out, options, pool, print_tensor);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("model size: %.2f MiB (%.2f bits/weight) -> quantized: %.2f MiB (%.2f bits/weight), %.1f%% of the input\n",
              mib(s.bytes_in), s.bits_per_weight_in(), mib(s.bytes_out), s.bits_per_weight_out(),
              s.bytes_in ? 100.0 * static_cast<double>(s.bytes_out) / static_cast<double>(s.bytes_in) : 0.0);
  std::printf("general.file_type = %u; %d tensors in %.2f s; peak RSS: %.1f MiB\n",
              static_cast<unsigned>(options.scheme.file_type), s.n_tensors, seconds, peak_rss_mib());
  if (s.n_fallbacks > 0)
    std::fprintf(stderr, "warning: %d of %d tensors used a fallback type (rows not a multiple of the block size)\n",
                 s.n_fallbacks, s.n_tensors);
  if (s.n_without_imatrix > 0)
    std::fprintf(stderr, "warning: %d quantized tensors had no imatrix entry and were quantized without one\n",
                 s.n_without_imatrix);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize a GGUF model (llama.cpp's formats and mixtures)");
  cmd->add_option("IN", a->in, "Input GGUF (any supported tensor types)")->required();
  cmd->add_option("OUT", a->out, "Output GGUF")->required();
  cmd->add_option("TYPE", a->type, "Q4_K_M, Q8_0, q4_0, ... (see below)")->required();
  cmd->add_option("-t,--threads", a->threads, "Threads (default: all cores)");
  cmd->add_option("--imatrix", a->imatrix, "Importance matrix (.dat, from `edgellm imatrix` or llama-imatrix)");
  cmd->add_flag("--keep-output-f16", a->keep_output_f16, "Store output.weight (or a tied token_embd) as F16");
  cmd->footer("TYPE:\n" + quantize::scheme_choices());
  cmd->callback([a] { run_quantize(*a); });
}

const CommandRegistration kRegisterQuantize(50, add_quantize_command);

}  // namespace edgellm::cli
