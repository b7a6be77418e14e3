#include "core/huge_page_mapping.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace edgellm::core {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

bool huge_page_aligned(const uint8_t* p) { return reinterpret_cast<uintptr_t>(p) % HugePageMapping::kHugePage == 0; }

// The "THPeligible" line of the /proc/self/smaps entry whose range holds `address` (-1: none).
int thp_eligible(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const uintptr_t a = reinterpret_cast<uintptr_t>(address);
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = lo <= a && a < hi;
    } else if (inside && line.rfind("THPeligible:", 0) == 0) {
      return std::stoi(line.substr(12));
    }
  }
  return -1;
}

std::string thp_mode() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(HugePageMapping, EmptyMapsNothing) {
  const HugePageMapping none(0);
  EXPECT_EQ(none.data(), nullptr);
  EXPECT_EQ(none.size(), 0u);
}

TEST(HugePageMapping, RoundsUpToAlignedHugePagesThatCanBeWritten) {
  for (const size_t bytes : {size_t{1}, 2 * kMiB, 5 * kMiB + 3}) {
    HugePageMapping m(bytes);
    ASSERT_NE(m.data(), nullptr);
    EXPECT_TRUE(huge_page_aligned(m.data())) << bytes;
    EXPECT_EQ(m.size() % HugePageMapping::kHugePage, 0u);
    EXPECT_GE(m.size(), bytes);
    EXPECT_LT(m.size(), bytes + HugePageMapping::kHugePage);
    m.data()[0] = 1;
    m.data()[m.size() - 1] = 2;  // the whole rounded range is mapped
    EXPECT_EQ(m.data()[0] + m.data()[m.size() - 1], 3);
  }
}

TEST(HugePageMapping, MovesOwnership) {
  HugePageMapping a(3 * kMiB);
  uint8_t* const p = a.data();
  HugePageMapping b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data(), p);
  HugePageMapping c(kMiB);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.size(), 4 * kMiB);
  c.data()[4 * kMiB - 1] = 7;
}

// With THP in "madvise" mode only an madvise'd range is eligible; this fails if the hint is lost.
TEST(HugePageMapping, RangeIsEligibleForTransparentHugePages) {
  const std::string mode = thp_mode();
  if (mode.find("[never]") != std::string::npos || mode.empty())
    GTEST_SKIP() << "transparent huge pages are off on this machine";
  HugePageMapping m(8 * kMiB);
  m.data()[0] = 1;
  const int eligible = thp_eligible(m.data());
  if (eligible < 0) GTEST_SKIP() << "this kernel's smaps has no THPeligible line";
  EXPECT_EQ(eligible, 1);
}

}  // namespace
}  // namespace edgellm::core
