// Anonymous memory for data that is streamed from DRAM (repacked weights, the bandwidth probe):
// 2 MiB-aligned and marked for transparent huge pages. Streaming 4 KiB pages costs a TLB miss
// per page; on this machine that held a one-core stream to ~80% of what huge pages reach.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgellm::core {

class HugePageMapping {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  HugePageMapping() = default;
  // Maps at least `bytes` (rounded up to whole huge pages); throws edgellm::Error on failure.
  explicit HugePageMapping(size_t bytes);
  HugePageMapping(HugePageMapping&& other) noexcept;
  HugePageMapping& operator=(HugePageMapping&& other) noexcept;
  HugePageMapping(const HugePageMapping&) = delete;
  HugePageMapping& operator=(const HugePageMapping&) = delete;
  ~HugePageMapping();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace edgellm::core
