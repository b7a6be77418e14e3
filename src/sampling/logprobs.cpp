// top_logprobs (declared in sampler.h): OpenAI-style log-probabilities of the raw logits.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "sampling/sampler.h"

namespace edgellm {
namespace {

// Higher logit first, then lower id: a strict total order, so "the n best" is unique.
bool more_likely(const TokenLogprob& a, const TokenLogprob& b) {
  if (a.logprob != b.logprob) return a.logprob > b.logprob;
  return a.token < b.token;
}

}  // namespace

TokenLogprobs top_logprobs(std::span<const float> logits, int32_t chosen, int n) {
  if (logits.empty()) fail("logprobs: empty logits");
  if (n < 0) fail("logprobs: the number of top log-probabilities must be >= 0, got {}", n);
  if (chosen < 0 || static_cast<size_t>(chosen) >= logits.size())
    fail("logprobs: chosen token {} is outside the vocabulary of {} tokens", chosen,
         logits.size());

  double max = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!(logits[i] < std::numeric_limits<float>::infinity()))
      fail("logprobs: logit {} of token {} is not a number or +infinity", logits[i], i);
    max = std::max(max, static_cast<double>(logits[i]));
  }
  if (std::isinf(max)) fail("logprobs: every logit is -infinity");
  double sum = 0.0;
  for (float logit : logits) sum += std::exp(static_cast<double>(logit) - max);
  const double log_normalizer = max + std::log(sum);
  auto logprob_of = [&](size_t token) {
    return static_cast<float>(static_cast<double>(logits[token]) - log_normalizer);
  };

  TokenLogprobs result;
  result.chosen = {chosen, logprob_of(static_cast<size_t>(chosen))};

  // The n best by a min-heap of size n (worst kept on top): O(vocab log n), no vocab-sized copy.
  // While selecting, `logprob` holds the raw logit: the ranking is the same, and it avoids ties
  // that rounding the log-softmax to float could create.
  const size_t wanted = std::min(static_cast<size_t>(n), logits.size());
  auto& heap = result.top;
  heap.reserve(wanted);
  if (wanted == 0) return result;
  for (size_t i = 0; i < logits.size(); ++i) {
    const TokenLogprob entry{static_cast<int32_t>(i), logits[i]};
    if (heap.size() < wanted) {
      heap.push_back(entry);
      std::push_heap(heap.begin(), heap.end(), more_likely);
    } else if (more_likely(entry, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), more_likely);
      heap.back() = entry;
      std::push_heap(heap.begin(), heap.end(), more_likely);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), more_likely);
  for (TokenLogprob& entry : heap) entry.logprob = logprob_of(static_cast<size_t>(entry.token));
  return result;
}

}  // namespace edgellm
