#include "sampling/sampler.h"

#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "core/error.h"

namespace edgellm {

void validate(const SamplingParams& params) {
  // Comparisons are written so that NaN fails them.
  if (!(params.temperature >= 0.0f) || std::isinf(params.temperature))
    fail("sampling: temperature must be a finite number >= 0, got {}", params.temperature);
  if (params.top_k < 0) fail("sampling: top_k must be >= 0 (0 = off), got {}", params.top_k);
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f))
    fail("sampling: top_p must be in (0, 1] (1 = off), got {}", params.top_p);
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f))
    fail("sampling: min_p must be in [0, 1] (0 = off), got {}", params.min_p);
  if (!(params.repeat_penalty > 0.0f) || std::isinf(params.repeat_penalty))
    fail("sampling: repeat_penalty must be a finite number > 0 (1 = off), got {}",
         params.repeat_penalty);
  if (!std::isfinite(params.frequency_penalty))
    fail("sampling: frequency_penalty must be finite, got {}", params.frequency_penalty);
  if (!std::isfinite(params.presence_penalty))
    fail("sampling: presence_penalty must be finite, got {}", params.presence_penalty);
  if (params.repeat_last_n < -1)
    fail("sampling: repeat_last_n must be >= -1 (-1 = whole context), got {}",
         params.repeat_last_n);
  for (const auto& [token, bias] : params.logit_bias) {
    if (token < 0) fail("sampling: logit_bias token id must be >= 0, got {}", token);
    if (!(bias < std::numeric_limits<float>::infinity()))
      fail("sampling: logit_bias for token {} must be finite or -infinity, got {}", token, bias);
  }
}

uint64_t random_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

namespace {
SamplingParams validated(SamplingParams params) {
  validate(params);
  return params;
}
}  // namespace

Sampler::Sampler(SamplingParams params)
    : params_(validated(std::move(params))),
      window_(params_.repeat_last_n),
      rng_(params_.seed),
      penalties_active_(params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                        params_.presence_penalty != 0.0f) {}

int32_t Sampler::sample(std::span<const float> logits) {
  sampling::check_logits(logits);
  adjusted_logits_.assign(logits.begin(), logits.end());
  if (penalties_active_) {
    sampling::apply_penalties(adjusted_logits_, window_, params_.repeat_penalty,
                              params_.frequency_penalty, params_.presence_penalty);
  }
  sampling::apply_logit_bias(adjusted_logits_, params_.logit_bias);
  if (params_.temperature == 0.0f) return sampling::argmax(adjusted_logits_);

  sampling::fill_candidates(candidates_, adjusted_logits_);
  sampling::keep_top_k(candidates_, params_.top_k);
  sampling::apply_temperature(candidates_, params_.temperature);
  sampling::keep_top_p(candidates_, params_.top_p);
  sampling::keep_min_p(candidates_, params_.min_p);
  return sampling::draw(candidates_, rng_.uniform());
}

void Sampler::accept(int32_t token) { window_.push(token); }

void Sampler::reset() {
  window_.clear();
  rng_.reseed(params_.seed);
}

}  // namespace edgellm
