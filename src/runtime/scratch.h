// Activation buffers of a forward pass, kept apart from the weights and reused across calls:
// a layer asks for slot i with at least n floats and gets a buffer that stays valid until the
// same slot is requested again with a larger size.
#pragma once

#include <cstddef>
#include <vector>

namespace edgellm::runtime {

class Scratch {
 public:
  float* get(size_t slot, size_t n) {
    if (slot >= buffers_.size()) buffers_.resize(slot + 1);
    std::vector<float>& b = buffers_[slot];
    if (b.size() < n) b.resize(n);
    return b.data();
  }

 private:
  std::vector<std::vector<float>> buffers_;
};

}  // namespace edgellm::runtime
