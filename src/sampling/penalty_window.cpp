#include "sampling/penalty_window.h"

#include "core/error.h"

namespace edgellm::sampling {

PenaltyWindow::PenaltyWindow(int32_t capacity) : capacity_(capacity) {
  if (capacity < -1) fail("penalty window: capacity must be >= -1, got {}", capacity);
}

void PenaltyWindow::push(int32_t token) {
  if (token < 0) fail("penalty window: token id must be >= 0, got {}", token);
  if (capacity_ == 0) return;
  ++counts_[token];
  if (capacity_ < 0) return;  // unbounded: the counts are all we need
  tokens_.push_back(token);
  if (tokens_.size() > static_cast<size_t>(capacity_)) {
    const int32_t evicted = tokens_.front();
    tokens_.pop_front();
    auto it = counts_.find(evicted);
    if (--it->second == 0) counts_.erase(it);
  }
}

void PenaltyWindow::clear() {
  tokens_.clear();
  counts_.clear();
}

int32_t PenaltyWindow::count(int32_t token) const {
  auto it = counts_.find(token);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace edgellm::sampling
