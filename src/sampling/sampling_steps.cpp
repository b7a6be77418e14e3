#include "sampling/sampling_steps.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "core/error.h"

namespace edgellm::sampling {
namespace {

constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

// Strict total order: higher logit first, then lower id. Because no two candidates compare
// equal, the top-k set and the sorted order are unique.
bool better(const Candidate& a, const Candidate& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

void sort_best_first(CandidateList& candidates) {
  if (candidates.sorted) return;
  std::sort(candidates.items.begin(), candidates.items.end(), better);
  candidates.sorted = true;
}

float max_logit(const CandidateList& candidates) {
  if (candidates.sorted) return candidates.items.front().logit;
  float best = kMinusInfinity;
  for (const Candidate& c : candidates.items) best = std::max(best, c.logit);
  return best;
}

void check_in_vocab(int32_t token, size_t n_vocab, const char* what) {
  if (token < 0 || static_cast<size_t>(token) >= n_vocab)
    fail("sampler: {} token {} is outside the vocabulary of {} tokens", what, token, n_vocab);
}

}  // namespace

void check_logits(std::span<const float> logits) {
  if (logits.empty()) fail("sampler: empty logits");
  for (size_t i = 0; i < logits.size(); ++i) {
    // NaN fails both comparisons; +infinity would make the softmax NaN.
    if (!(logits[i] < std::numeric_limits<float>::infinity()))
      fail("sampler: logit {} of token {} is not a number or +infinity", logits[i], i);
  }
}

void apply_penalties(std::span<float> logits, const PenaltyWindow& window, float repeat_penalty,
                     float frequency_penalty, float presence_penalty) {
  for (const auto& [token, count] : window.counts()) {
    check_in_vocab(token, logits.size(), "penalized");
    float& logit = logits[static_cast<size_t>(token)];
    // Dividing a negative logit would raise it, so negative logits are multiplied instead.
    logit = logit > 0.0f ? logit / repeat_penalty : logit * repeat_penalty;
    logit -= static_cast<float>(count) * frequency_penalty + presence_penalty;
  }
}

void apply_logit_bias(std::span<float> logits, const std::map<int32_t, float>& logit_bias) {
  for (const auto& [token, bias] : logit_bias) {
    check_in_vocab(token, logits.size(), "logit_bias");
    logits[static_cast<size_t>(token)] += bias;
  }
}

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;  // strict: the first of equal maxima wins
  }
  if (logits.empty() || logits[best] == kMinusInfinity)
    fail("sampler: every token is masked (all logits are -infinity)");
  return static_cast<int32_t>(best);
}

void fill_candidates(CandidateList& candidates, std::span<const float> logits) {
  candidates.items.clear();
  candidates.items.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] != kMinusInfinity)
      candidates.items.push_back({static_cast<int32_t>(i), logits[i]});
  }
  candidates.sorted = false;
  if (candidates.items.empty()) fail("sampler: every token is masked (all logits are -infinity)");
}

void keep_top_k(CandidateList& candidates, int32_t k) {
  auto& items = candidates.items;
  if (k <= 0 || static_cast<size_t>(k) >= items.size()) return;
  if (!candidates.sorted) std::nth_element(items.begin(), items.begin() + k, items.end(), better);
  items.resize(static_cast<size_t>(k));
  sort_best_first(candidates);
}

void apply_temperature(CandidateList& candidates, float temperature) {
  const float max = max_logit(candidates);
  const float inverse = 1.0f / temperature;
  for (Candidate& c : candidates.items) c.logit = (c.logit - max) * inverse;
}

void keep_top_p(CandidateList& candidates, float top_p) {
  if (top_p >= 1.0f || candidates.items.size() <= 1) return;
  auto& items = candidates.items;
  const float max = max_logit(candidates);
  double total = 0.0;
  for (const Candidate& c : items) total += std::exp(c.logit - max);
  const double needed = static_cast<double>(top_p) * total;

  // Length of the best-first prefix of items[0, length) that reaches the mass, or 0 if it does
  // not get there.
  auto nucleus_within = [&](size_t length) -> size_t {
    double cumulative = 0.0;
    for (size_t i = 0; i < length; ++i) {
      cumulative += std::exp(items[i].logit - max);
      if (cumulative >= needed) return i + 1;
    }
    return 0;
  };

  if (!candidates.sorted) {
    // The nucleus is usually a small head of a large vocabulary, so sort a growing head
    // (nth_element + sorting the head) instead of everything. Since the order is a strict total
    // order, the result is the same as after a full sort.
    for (size_t head = 256; head < items.size(); head *= 4) {
      const auto head_end = items.begin() + static_cast<std::ptrdiff_t>(head);
      std::nth_element(items.begin(), head_end, items.end(), better);
      std::sort(items.begin(), head_end, better);
      if (const size_t kept = nucleus_within(head); kept > 0) {
        items.resize(kept);
        candidates.sorted = true;
        return;
      }
    }
    sort_best_first(candidates);
  }
  const size_t kept = nucleus_within(items.size());
  items.resize(kept > 0 ? kept : items.size());  // 0: rounding kept the sum just short of it
}

void keep_min_p(CandidateList& candidates, float min_p) {
  if (min_p <= 0.0f || candidates.items.size() <= 1) return;
  const double threshold = static_cast<double>(max_logit(candidates)) + std::log(double{min_p});
  auto below = [threshold](const Candidate& c) { return static_cast<double>(c.logit) < threshold; };
  auto& items = candidates.items;
  // The most likely token is never below the threshold (log(min_p) <= 0), so one always stays.
  items.erase(std::remove_if(items.begin(), items.end(), below), items.end());
}

int32_t draw(const CandidateList& candidates, double uniform) {
  const auto& items = candidates.items;
  if (items.empty()) fail("sampler: no candidate token left to draw from");
  const float max = max_logit(candidates);
  double total = 0.0;
  for (const Candidate& c : items) total += std::exp(c.logit - max);
  const double target = uniform * total;
  double cumulative = 0.0;
  int32_t last_with_weight = items.front().id;  // overwritten below: the max has weight 1
  for (const Candidate& c : items) {
    const float weight = std::exp(c.logit - max);
    if (weight == 0.0f) continue;
    cumulative += weight;
    last_with_weight = c.id;
    if (cumulative > target) return c.id;
  }
  // Reached only when uniform * total rounds up to total itself.
  return last_with_weight;
}

}  // namespace edgellm::sampling
