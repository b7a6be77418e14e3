#include "quantize/kl_divergence.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <tuple>

#include <fmt/format.h>

#include "core/error.h"

namespace edgellm::quantize {

namespace {

constexpr char kExactMagic[8] = {'E', 'D', 'G', 'K', 'L', 'B', '0', '1'};
constexpr char kLlamaMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr size_t kHeaderBytes = 8 + 3 * sizeof(int32_t);

// uint16 entries of one compact row: two floats (scale, min log-prob), the vocabulary rounded
// up to an even count (llama.cpp's nv).
int64_t packed_row_entries(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

int64_t scored_per_window(int64_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

size_t row_bytes_of(KlFormat format, int64_t n_vocab) {
  return format == KlFormat::Exact ? static_cast<size_t>(n_vocab) * sizeof(float)
                                   : static_cast<size_t>(packed_row_entries(n_vocab)) * sizeof(uint16_t);
}

// llama.cpp's compact row (perplexity.cpp log_softmax with a uint16 output): log-probabilities
// within 16 nats of the top one quantized to 16 bits, everything below clamped to the floor.
void pack_row(std::span<const float> logits, uint16_t* out) {
  const auto n = static_cast<int64_t>(logits.size());
  float max_logit = logits[0], min_logit = logits[0];
  for (int64_t i = 1; i < n; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);
  double sum_exp = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const auto log_sum_exp = static_cast<float>(std::log(sum_exp));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.f;
  std::memcpy(out, &scale, sizeof scale);
  std::memcpy(out + 2, &min_log_prob, sizeof min_log_prob);
  uint16_t* q = out + 4;
  if (scale == 0.0f) {
    std::fill(q, q + n, uint16_t{0});
    return;
  }
  const float inv_scale = 1 / scale;
  // Round half to even, as llama.cpp's nearest_int (65536 wraps to 0 there too).
  for (int64_t i = 0; i < n; ++i)
    q[i] = logits[i] > min_logit
               ? static_cast<uint16_t>(static_cast<int32_t>(std::nearbyint(inv_scale * (logits[i] - min_logit))))
               : 0;
}

void unpack_row(const uint16_t* in, int64_t n_vocab, float* log_probs) {
  float scale, min_log_prob;
  std::memcpy(&scale, in, sizeof scale);
  std::memcpy(&min_log_prob, in + 2, sizeof min_log_prob);
  for (int64_t i = 0; i < n_vocab; ++i) log_probs[i] = scale * in[4 + i] + min_log_prob;
}

size_t argmax(std::span<const float> v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());  // first maximum
}

// llama.cpp's mean and 1-sigma uncertainty of the mean (none for fewer than 11 samples).
std::pair<double, double> mean_and_uncertainty(double sum, double sum2, int64_t count) {
  if (count < 1) return {0.0, 0.0};
  const double mean = sum / static_cast<double>(count);
  const double var = sum2 / static_cast<double>(count) - mean * mean;
  return {mean, var > 0 && count > 10 ? std::sqrt(var / static_cast<double>(count - 1)) : 0.0};
}

double covariance_of_means(double sum_a, double sum_b, double sum_ab, int64_t count) {
  if (count < 10) return 0.0;
  const double n = static_cast<double>(count);
  return (sum_ab / n - (sum_a / n) * (sum_b / n)) / (n - 1);
}

}  // namespace

void log_softmax(std::span<const float> logits, std::span<float> out) {
  if (logits.empty() || out.size() != logits.size()) fail("log_softmax: {} logits, {} outputs", logits.size(), out.size());
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max);
  const double log_norm = max + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<float>(static_cast<double>(logits[i]) - log_norm);
}

// ---- writer ---------------------------------------------------------------------------------

KlBaseWriter::KlBaseWriter(const std::string& path, KlFormat format, int64_t n_ctx, int64_t n_vocab,
                           std::span<const int32_t> tokens)
    : path_(path), format_(format), n_vocab_(n_vocab), n_scored_(scored_per_window(n_ctx)) {
  if (n_ctx < 4 || n_ctx > INT32_MAX) fail("KL base {}: window of {} tokens", path, n_ctx);
  if (n_vocab < 1 || n_vocab > INT32_MAX) fail("KL base {}: vocabulary of {}", path, n_vocab);
  if (tokens.empty() || tokens.size() % static_cast<size_t>(n_ctx) != 0)
    fail("KL base {}: {} tokens are not whole windows of {}", path, tokens.size(), n_ctx);
  n_chunk_ = static_cast<int64_t>(tokens.size()) / n_ctx;
  file_.reset(std::fopen((path + ".partial").c_str(), "wb"));
  if (!file_) fail("{}: cannot create: {}", path + ".partial", std::strerror(errno));
  std::fwrite(format == KlFormat::Exact ? kExactMagic : kLlamaMagic, 1, 8, file_.get());
  const auto ctx32 = static_cast<uint32_t>(n_ctx);
  const auto header = std::array<int32_t, 2>{static_cast<int32_t>(n_vocab), static_cast<int32_t>(n_chunk_)};
  std::fwrite(&ctx32, sizeof ctx32, 1, file_.get());
  std::fwrite(header.data(), sizeof(int32_t), header.size(), file_.get());
  std::fwrite(tokens.data(), sizeof(int32_t), tokens.size(), file_.get());
  if (format == KlFormat::Exact) row_.resize(static_cast<size_t>(n_vocab));
  else packed_.assign(static_cast<size_t>(packed_row_entries(n_vocab)), 0);
}

KlBaseWriter::~KlBaseWriter() {
  if (file_) {  // not finished: leave nothing half-written behind
    file_.reset();
    std::remove((path_ + ".partial").c_str());
  }
}

void KlBaseWriter::add_window(std::span<const float> logits) {
  if (!file_) fail("KL base {}: add_window after finish", path_);
  if (logits.size() != static_cast<size_t>(n_scored_ * n_vocab_))
    fail("KL base {}: window has {} logits, expected {} x {}", path_, logits.size(), n_scored_, n_vocab_);
  if (written_ == n_chunk_) fail("KL base {}: more than the {} declared windows", path_, n_chunk_);
  const auto v = static_cast<size_t>(n_vocab_);
  for (int64_t r = 0; r < n_scored_; ++r) {
    const std::span<const float> row = logits.subspan(static_cast<size_t>(r) * v, v);
    if (format_ == KlFormat::Exact) {
      log_softmax(row, row_);
      std::fwrite(row_.data(), sizeof(float), v, file_.get());
    } else {
      pack_row(row, packed_.data());
      std::fwrite(packed_.data(), sizeof(uint16_t), packed_.size(), file_.get());
    }
  }
  ++written_;
}

void KlBaseWriter::finish() {
  if (!file_) fail("KL base {}: finished twice", path_);
  if (written_ != n_chunk_) fail("KL base {}: {} of {} windows written", path_, written_, n_chunk_);
  const bool ok = std::ferror(file_.get()) == 0 && std::fflush(file_.get()) == 0;
  file_.reset();
  const std::string partial = path_ + ".partial";
  if (!ok || std::rename(partial.c_str(), path_.c_str()) != 0) {
    std::remove(partial.c_str());
    fail("{}: write failed: {}", path_, std::strerror(errno));
  }
}

// ---- reader ---------------------------------------------------------------------------------

KlBaseReader::KlBaseReader(const std::string& path) : path_(path) {
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_) fail("cannot read KL base file {}: {}", path, std::strerror(errno));
  char magic[8];
  uint32_t n_ctx = 0;
  int32_t header[2] = {0, 0};
  if (std::fread(magic, 1, 8, file_.get()) != 8 || std::fread(&n_ctx, sizeof n_ctx, 1, file_.get()) != 1 ||
      std::fread(header, sizeof(int32_t), 2, file_.get()) != 2)
    fail("{}: too short for a KL base file", path);
  if (std::memcmp(magic, kExactMagic, 8) == 0) format_ = KlFormat::Exact;
  else if (std::memcmp(magic, kLlamaMagic, 8) == 0) format_ = KlFormat::LlamaCpp;
  else fail("{} is not a KL base file (written by perplexity --kl-base or llama-perplexity --kl-divergence-base)", path);
  n_ctx_ = n_ctx;
  n_vocab_ = header[0];
  n_chunk_ = header[1];
  if (n_ctx_ < 4 || n_vocab_ < 1 || n_chunk_ < 1)
    fail("{}: bad header (n_ctx {}, n_vocab {}, n_chunk {})", path, n_ctx_, n_vocab_, n_chunk_);
  const auto expected = static_cast<uintmax_t>(kHeaderBytes) +
                        static_cast<uintmax_t>(n_ctx_ * n_chunk_) * sizeof(int32_t) +
                        static_cast<uintmax_t>(n_chunk_ * n_scored()) * row_bytes_of(format_, n_vocab_);
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec || size != expected)
    fail("{}: {} bytes, but its header (n_ctx {}, n_vocab {}, n_chunk {}) needs {}", path, size, n_ctx_,
         n_vocab_, n_chunk_, expected);
  tokens_.resize(static_cast<size_t>(n_ctx_ * n_chunk_));
  if (std::fread(tokens_.data(), sizeof(int32_t), tokens_.size(), file_.get()) != tokens_.size())
    fail("{}: cannot read its tokens", path);
  if (format_ == KlFormat::LlamaCpp) packed_.resize(static_cast<size_t>(packed_row_entries(n_vocab_)));
}

void KlBaseReader::read_window(std::vector<float>& log_probs) {
  if (read_ == n_chunk_) fail("{}: all {} windows were read already", path_, n_chunk_);
  const auto v = static_cast<size_t>(n_vocab_);
  log_probs.resize(static_cast<size_t>(n_scored()) * v);
  for (int64_t r = 0; r < n_scored(); ++r) {
    float* row = log_probs.data() + static_cast<size_t>(r) * v;
    const bool ok = format_ == KlFormat::Exact
                        ? std::fread(row, sizeof(float), v, file_.get()) == v
                        : std::fread(packed_.data(), sizeof(uint16_t), packed_.size(), file_.get()) == packed_.size();
    if (!ok) fail("{}: cannot read window {}", path_, read_);
    if (format_ == KlFormat::LlamaCpp) unpack_row(packed_.data(), n_vocab_, row);
  }
  ++read_;
}

float KlBaseReader::log_prob_cutoff() const { return format_ == KlFormat::LlamaCpp ? -16.0f : -INFINITY; }

// ---- statistics -----------------------------------------------------------------------------

void KlAccumulator::add(std::span<const float> base, std::span<const float> logits, int32_t target, float cutoff) {
  if (base.size() != logits.size() || logits.empty())
    fail("KL: base row has {} entries, logits {}", base.size(), logits.size());
  if (target < 0 || static_cast<size_t>(target) >= logits.size())
    fail("KL: target token {} outside the vocabulary of {}", target, logits.size());
  log_probs_.resize(logits.size());
  log_softmax(logits, log_probs_);
  const double nll = -static_cast<double>(log_probs_[static_cast<size_t>(target)]);
  const double nll_base = -static_cast<double>(base[static_cast<size_t>(target)]);
  sum_nll_ += nll;
  sum_nll2_ += nll * nll;
  sum_nll_base_ += nll_base;
  sum_nll_base2_ += nll_base * nll_base;
  sum_nll_nll_base_ += nll * nll_base;
  double kl = 0.0;
  for (size_t i = 0; i < base.size(); ++i) {
    if (!(base[i] > cutoff)) continue;
    const double lb = base[i];
    kl += std::exp(lb) * (lb - static_cast<double>(log_probs_[i]));
  }
  kld_.push_back(kl);
  if (argmax(logits) == argmax(base)) ++same_top_;
  const double dp = std::exp(-nll) - std::exp(-nll_base);
  sum_dp2_ += dp * dp;
  ++count_;
}

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) fail("percentile of no values");
  std::sort(values.begin(), values.end());
  if (fraction <= 0) return values.front();
  if (fraction >= 1) return values.back();
  const double p = fraction * static_cast<double>(values.size() - 1);
  const auto i = static_cast<size_t>(p);
  const double frac = p - static_cast<double>(i);
  return (1 - frac) * values[i] + frac * values[std::min(i + 1, values.size() - 1)];
}

KlSummary KlAccumulator::summary() const {
  if (count_ == 0) fail("KL: no tokens were compared");
  KlSummary s;
  s.count = count_;
  const auto [ln_ppl, ln_ppl_unc] = mean_and_uncertainty(sum_nll_, sum_nll2_, count_);
  const auto [ln_base, ln_base_unc] = mean_and_uncertainty(sum_nll_base_, sum_nll_base2_, count_);
  s.ppl = std::exp(ln_ppl);
  s.ppl_base = std::exp(ln_base);
  const double cov = covariance_of_means(sum_nll_, sum_nll_base_, sum_nll_nll_base_, count_);
  s.ln_ppl_ratio = ln_ppl - ln_base;
  s.ln_ppl_ratio_unc = std::sqrt(std::max(0.0, ln_ppl_unc * ln_ppl_unc + ln_base_unc * ln_base_unc - 2 * cov));
  s.ppl_ratio = std::exp(s.ln_ppl_ratio);
  double sum_kl = 0, sum_kl2 = 0;
  for (double k : kld_) {
    sum_kl += k;
    sum_kl2 += k * k;
  }
  std::tie(s.kld_mean, s.kld_unc) = mean_and_uncertainty(sum_kl, sum_kl2, count_);
  std::vector<double> sorted = kld_;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  s.kld_median = n % 2 == 0 ? 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]) : sorted[n / 2];
  s.kld_p99 = percentile(sorted, 0.99);
  s.kld_max = sorted.back();
  s.same_top = static_cast<double>(same_top_) / static_cast<double>(count_);
  s.same_top_unc = count_ > 1 ? std::sqrt(s.same_top * (1 - s.same_top) / static_cast<double>(count_ - 1)) : 0.0;
  s.dp_rms = std::sqrt(sum_dp2_ / static_cast<double>(count_));
  return s;
}

std::string format_kl_summary(const KlSummary& s) {
  std::string out = fmt::format("====== KL divergence vs base ({} tokens) ======\n", s.count);
  out += fmt::format("PPL(Q)                : {:.6f}\n", s.ppl);
  out += fmt::format("PPL(base)             : {:.6f}\n", s.ppl_base);
  out += fmt::format("PPL(Q)/PPL(base)      : {:.6f}\n", s.ppl_ratio);
  out += fmt::format("ln(PPL(Q)/PPL(base))  : {:.6f} +/- {:.6f}\n", s.ln_ppl_ratio, s.ln_ppl_ratio_unc);
  out += fmt::format("Mean KLD              : {:.6f} +/- {:.6f}\n", s.kld_mean, s.kld_unc);
  out += fmt::format("Median KLD            : {:.6f}\n", s.kld_median);
  out += fmt::format("99.0% KLD             : {:.6f}\n", s.kld_p99);
  out += fmt::format("Maximum KLD           : {:.6f}\n", s.kld_max);
  out += fmt::format("Same top token        : {:.3f} +/- {:.3f} %\n", 100 * s.same_top, 100 * s.same_top_unc);
  out += fmt::format("RMS delta p           : {:.3f} %\n", 100 * s.dp_rms);
  return out;
}

}  // namespace edgellm::quantize
