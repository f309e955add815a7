#include "backend/buffer_assignment.h"

#include <gtest/gtest.h>

namespace sluice::backend {
namespace {

TEST(BufferAssignmentTest, BuffersAliveAtTheSameTimeNeverOverlap) {
  std::vector<BufferRequest> requests = {{100, 0, 2}, {200, 1, 3}, {64, 2, 2}, {300, 3, 5}};
  BufferLayout layout = assignBuffers(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    for (size_t j = i + 1; j < requests.size(); ++j) {
      bool liveTogether = requests[i].firstUse <= requests[j].lastUse &&
                          requests[j].firstUse <= requests[i].lastUse;
      bool overlap = layout.offsets[i] < layout.offsets[j] + requests[j].bytes &&
                     layout.offsets[j] < layout.offsets[i] + requests[i].bytes;
      EXPECT_FALSE(liveTogether && overlap) << i << " and " << j;
    }
  }
}

TEST(BufferAssignmentTest, ChainOfBuffersReusesMemory) {
  // A straight chain: each buffer dies when the next one is written.
  std::vector<BufferRequest> requests;
  for (int i = 0; i < 10; ++i) requests.push_back({1024, i, i + 1});
  BufferLayout layout = assignBuffers(requests);
  EXPECT_EQ(layout.totalBytes, 2 * 1024);
}

TEST(BufferAssignmentTest, OffsetsAreAligned) {
  BufferLayout layout = assignBuffers({{3, 0, 1}, {5, 0, 1}, {7, 1, 2}}, 64);
  for (int64_t offset : layout.offsets) EXPECT_EQ(offset % 64, 0);
}

}  // namespace
}  // namespace sluice::backend
