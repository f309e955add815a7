#include "backend/buffer_assignment.h"

#include <algorithm>
#include <numeric>

namespace sluice::backend {

BufferLayout assignBuffers(const std::vector<BufferRequest>& requests, int64_t alignment) {
  BufferLayout layout;
  layout.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].bytes > requests[b].bytes;
  });
  auto roundUp = [alignment](int64_t bytes) {
    return (bytes + alignment - 1) / alignment * alignment;
  };
  std::vector<size_t> placed;
  for (size_t index : order) {
    const BufferRequest& request = requests[index];
    // Intervals [offset, offset + size) of placed buffers alive at the same time, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t other : placed) {
      const BufferRequest& o = requests[other];
      if (o.firstUse <= request.lastUse && request.firstUse <= o.lastUse) {
        busy.emplace_back(layout.offsets[other], layout.offsets[other] + roundUp(o.bytes));
      }
    }
    std::sort(busy.begin(), busy.end());
    const int64_t size = roundUp(request.bytes);
    int64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (begin - offset >= size) break;
      offset = std::max(offset, end);
    }
    layout.offsets[index] = offset;
    layout.totalBytes = std::max(layout.totalBytes, offset + size);
    placed.push_back(index);
  }
  return layout;
}

}  // namespace sluice::backend
