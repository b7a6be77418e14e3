// The individual steps of Sampler::sample (see sampler.h for their order and semantics), exposed
// so that each can be tested on hand-made inputs. Parameters are assumed already validated
// (edgellm::validate); the functions check only what depends on the logits themselves.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "sampling/penalty_window.h"

namespace edgellm::sampling {

struct Candidate {
  int32_t id;
  float logit;
};

// The tokens still in the running. `sorted` means items are ordered by logit, highest first,
// ties by lower id first; otherwise they are in increasing id order. Either order is fully
// determined by the logits, so sampling never depends on how std::sort breaks ties.
struct CandidateList {
  std::vector<Candidate> items;
  bool sorted = false;
};

// Throws edgellm::Error if logits is empty or holds a NaN or +infinity (-infinity is a masked
// token and allowed).
void check_logits(std::span<const float> logits);

// Repeat penalty (logit > 0 -> logit / repeat_penalty, else logit * repeat_penalty), then
// logit -= count * frequency_penalty + presence_penalty, for every token in the window. Throws if
// a window token is outside the vocabulary.
void apply_penalties(std::span<float> logits, const PenaltyWindow& window, float repeat_penalty,
                     float frequency_penalty, float presence_penalty);

// logits[token] += bias. Throws if a token is outside the vocabulary.
void apply_logit_bias(std::span<float> logits, const std::map<int32_t, float>& logit_bias);

// Index of the largest logit, lowest id on ties. Throws if every logit is -infinity.
int32_t argmax(std::span<const float> logits);

// Every token with a logit above -infinity, in id order. Throws if there is none.
void fill_candidates(CandidateList& candidates, std::span<const float> logits);

// Keeps the k highest (k <= 0 or k >= size: no-op). Uses nth_element, then sorts only the k kept,
// so it costs O(vocab + k log k) rather than a full sort.
void keep_top_k(CandidateList& candidates, int32_t k);

// logit -> (logit - max) / temperature (temperature > 0). Subtracting the max first keeps a tiny
// temperature from overflowing to infinity; it does not change the softmax.
void apply_temperature(CandidateList& candidates, float temperature);

// Keeps the shortest best-first prefix whose probability mass is >= top_p (top_p >= 1: no-op).
// Leaves the list sorted. An unsorted list is not sorted whole: a head of 256, 1024, ... tokens
// is selected and sorted until it holds the nucleus (typically the first), so a 150k vocabulary
// costs a few linear passes instead of a full sort.
void keep_top_p(CandidateList& candidates, float top_p);

// Keeps tokens with p >= min_p * p_max, i.e. logit >= max_logit + log(min_p) (min_p <= 0:
// no-op). Keeps the list's order.
void keep_min_p(CandidateList& candidates, float min_p);

// The candidate at which the cumulative softmax (in list order) first exceeds uniform * total;
// uniform is in [0, 1).
int32_t draw(const CandidateList& candidates, double uniform);

}  // namespace edgellm::sampling
