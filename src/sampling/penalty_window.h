// The tokens the repetition / frequency / presence penalties look at: the last `capacity`
// accepted tokens, with a running count per distinct token so applying the penalties costs
// O(distinct tokens in the window), not O(vocabulary) or O(window) per sampled token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>

namespace edgellm::sampling {

class PenaltyWindow {
 public:
  // capacity: tokens remembered; 0 = none (penalties off), -1 = every token since clear().
  explicit PenaltyWindow(int32_t capacity);

  void push(int32_t token);
  void clear();

  // Occurrences of each token currently in the window (tokens with count 0 are absent).
  const std::unordered_map<int32_t, int32_t>& counts() const { return counts_; }
  int32_t count(int32_t token) const;

 private:
  int32_t capacity_;
  std::deque<int32_t> tokens_;  // oldest first; only kept when the window is bounded
  std::unordered_map<int32_t, int32_t> counts_;
};

}  // namespace edgellm::sampling
