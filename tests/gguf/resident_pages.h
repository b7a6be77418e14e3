// How many pages of a byte range are mapped into this process (/proc/self/pagemap), for tests of
// what a mapped model file keeps resident.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>

namespace edgellm::test {

// Pages of [begin, end) present in this process (whole pages containing the range's bytes,
// the last partial page excluded).
inline size_t present_pages(const uint8_t* begin, const uint8_t* end) {
  constexpr uintptr_t kPage = 4096;
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) / kPage, last = reinterpret_cast<uintptr_t>(end) / kPage;
  std::ifstream f("/proc/self/pagemap", std::ios::binary);
  f.seekg(static_cast<std::streamoff>(first * 8));
  size_t present = 0;
  for (uintptr_t p = first; p < last; ++p) {
    uint64_t entry = 0;
    f.read(reinterpret_cast<char*>(&entry), 8);
    present += (entry >> 63) & 1;
  }
  return present;
}

}  // namespace edgellm::test
