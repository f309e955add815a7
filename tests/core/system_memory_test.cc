#include "core/system_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace sluice {
namespace {

TEST(SystemMemoryTest, PeakGrowsWhenMemoryIsTouchedAndNeverFallsBelowCurrent) {
  int64_t before = peakResidentBytes();
  std::vector<char> block(256 << 20);
  std::memset(block.data(), 1, block.size());
  int64_t current = currentResidentBytes();
  int64_t after = peakResidentBytes();
  EXPECT_GE(after, before + (200 << 20));
  EXPECT_GE(after, current);
  EXPECT_GT(physicalMemoryBytes(), after);
  EXPECT_EQ(block[12345], 1);
}

}  // namespace
}  // namespace sluice
