#include "core/buffer_pool.h"

#include <utility>

namespace sluice {

std::vector<uint8_t> BufferPool::take(size_t bytes) {
  std::vector<uint8_t> buffer;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      // The first one already big enough, else the biggest (it grows least).
      size_t best = 0;
      for (size_t i = 0; i < idle_.size(); ++i) {
        if (idle_[i].size() >= bytes) {
          best = i;
          break;
        }
        if (idle_[i].size() > idle_[best].size()) best = i;
      }
      buffer = std::move(idle_[best]);
      idle_[best] = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  buffer.resize(bytes);  // shrinking keeps the bytes; growing zeroes only the new ones
  return buffer;
}

void BufferPool::give(std::vector<uint8_t> buffer) {
  if (buffer.capacity() == 0) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < maxIdle_) idle_.push_back(std::move(buffer));
}

size_t BufferPool::idle() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

}  // namespace sluice
