// What quantization costs: a reference ("base") model's next-token distributions over a text are
// saved once, then a quantized model is run over the same tokens and compared token by token
// (llama.cpp's perplexity --kl-divergence-base / --kl-divergence).
//
// Base files have llama.cpp's layout, in one of two payloads:
//   magic[8]  "EDGKLB01" (edgellm, exact) or "_logits_" (llama.cpp, compact)
//   uint32 n_ctx, int32 n_vocab, int32 n_chunk, int32 tokens[n_ctx * n_chunk]
//   per chunk, for the n_ctx - 1 - n_ctx/2 scored positions (the second half of the window,
//   as perplexity scores them), one row per position:
//     exact:   float32 log_softmax[n_vocab]
//     llama:   uint16[nv], nv = 2*((n_vocab+1)/2) + 4: float32 scale, float32 min_log_prob, then
//              round((logit - min_logit) / scale) per token, min_logit clamped to max - 16
// The exact payload makes identical models compare to KL 0 and PPL ratio 1 exactly (the log-
// probabilities are recomputed bit for bit); the llama payload is half the size and
// interchanges with llama-perplexity (both directions).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace edgellm::quantize {

enum class KlFormat { Exact, LlamaCpp };

// log(softmax(logits)) computed in double, rounded to float: the one definition both sides use.
void log_softmax(std::span<const float> logits, std::span<float> out);

class KlBaseWriter {
 public:
  // tokens: n_chunk windows of n_ctx tokens, as they were tokenized (before BOS replacement).
  KlBaseWriter(const std::string& path, KlFormat format, int64_t n_ctx, int64_t n_vocab,
               std::span<const int32_t> tokens);
  ~KlBaseWriter();
  KlBaseWriter(const KlBaseWriter&) = delete;
  KlBaseWriter& operator=(const KlBaseWriter&) = delete;

  // The logits of one window's scored positions, n_scored × n_vocab.
  void add_window(std::span<const float> logits);
  void finish();  // checks that every chunk was written, renames PATH.partial to PATH

 private:
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::string path_;
  KlFormat format_;
  int64_t n_vocab_, n_scored_, n_chunk_, written_ = 0;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::vector<float> row_;
  std::vector<uint16_t> packed_;
};

class KlBaseReader {
 public:
  explicit KlBaseReader(const std::string& path);  // reads and checks the header
  KlFormat format() const { return format_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_vocab() const { return n_vocab_; }
  int64_t n_chunk() const { return n_chunk_; }
  int64_t n_scored() const { return n_ctx_ - 1 - n_ctx_ / 2; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  // Base log-probabilities of the next window, n_scored × n_vocab (decoded for llama files).
  void read_window(std::vector<float>& log_probs);
  // llama.cpp ignores base probabilities below e^-16 in KL sums of its compact files (they were
  // clamped when saved); exact files use every term.
  float log_prob_cutoff() const;

 private:
  std::string path_;
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> file_;
  KlFormat format_ = KlFormat::Exact;
  int64_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0, read_ = 0;
  std::vector<int32_t> tokens_;
  std::vector<uint16_t> packed_;
};

struct KlSummary {
  int64_t count = 0;              // scored tokens
  double ppl = 0, ppl_base = 0;   // perplexity of the model and of the base
  double ln_ppl_ratio = 0, ln_ppl_ratio_unc = 0;  // mean ln(PPL/PPL_base) ± 1 sigma
  double ppl_ratio = 0;           // exp(ln_ppl_ratio)
  double kld_mean = 0, kld_unc = 0, kld_median = 0, kld_p99 = 0, kld_max = 0;
  double same_top = 0, same_top_unc = 0;  // fraction of tokens whose argmax agrees
  double dp_rms = 0;              // RMS of p(correct token) - p_base(correct token)
};

// Accumulates the per-token statistics llama.cpp's KL-divergence mode prints.
class KlAccumulator {
 public:
  // base_log_probs: the base row; logits: the compared model's raw logits; target: the token
  // that follows. Terms with base log-probability <= cutoff are left out of the KL sum.
  void add(std::span<const float> base_log_probs, std::span<const float> logits, int32_t target,
           float cutoff = -INFINITY);
  int64_t count() const { return count_; }
  KlSummary summary() const;  // throws when nothing was added
  const std::vector<double>& kl_values() const { return kld_; }

 private:
  double sum_nll_ = 0, sum_nll2_ = 0, sum_nll_base_ = 0, sum_nll_base2_ = 0, sum_nll_nll_base_ = 0;
  double sum_dp2_ = 0;
  int64_t same_top_ = 0, count_ = 0;
  std::vector<double> kld_;
  std::vector<float> log_probs_;
};

// llama.cpp's percentile: linear interpolation between the sorted values around fraction·(n-1).
double percentile(std::vector<double> values, double fraction);

// The report `edgellm perplexity --kl-compare` prints.
std::string format_kl_summary(const KlSummary& s);

}  // namespace edgellm::quantize
