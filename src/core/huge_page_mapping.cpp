#include "core/huge_page_mapping.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace edgellm::core {

HugePageMapping::HugePageMapping(size_t bytes) {
  if (bytes == 0) return;
  const size_t length = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Over-map by one huge page and trim both ends, so that the range starts on a 2 MiB boundary
  // (a huge page needs an aligned 2 MiB range inside one mapping).
  void* p = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot map {} bytes of anonymous memory: {}", length, std::strerror(errno));
  const uintptr_t raw = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (raw + kHugePage - 1) / kHugePage * kHugePage;
  if (start > raw) munmap(p, start - raw);
  if (raw + kHugePage > start) munmap(reinterpret_cast<void*>(start + length), raw + kHugePage - start);
  // Only a hint: with THP off the mapping still works on 4 KiB pages. Untouched pages of the
  // range never become resident.
  madvise(reinterpret_cast<void*>(start), length, MADV_HUGEPAGE);
  data_ = reinterpret_cast<uint8_t*>(start);
  size_ = length;
}

HugePageMapping::HugePageMapping(HugePageMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HugePageMapping& HugePageMapping::operator=(HugePageMapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

HugePageMapping::~HugePageMapping() {
  if (data_ != nullptr) munmap(data_, size_);
}

}  // namespace edgellm::core
