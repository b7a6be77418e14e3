// Element-wise loops shared by the ISA families: one vector routine applied lane group by lane
// group, the last n % kLanes values through a zero-padded copy, so that every element is
// computed by the same instructions whatever its position in the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace edgellm::kernels::lanes {
namespace {

// op(a, b) reads kLanes floats at a and b and writes kLanes floats at a.
template <int kLanes, class Op>
inline void for_each_group(float* a, const float* b, int64_t n, Op op) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) op(a + i, b + i);
  if (i < n) {
    float pa[kLanes] = {}, pb[kLanes] = {};
    const auto bytes = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(pa, a + i, bytes);
    std::memcpy(pb, b + i, bytes);
    op(pa, pb);
    std::memcpy(a + i, pa, bytes);
  }
}

}  // namespace
}  // namespace edgellm::kernels::lanes
