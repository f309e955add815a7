#pragma once
// Byte buffers handed from one pipeline stage back to another, so that a steady job reuses the same
// memory: a fresh buffer of a unit's crops (tens of MB) costs the kernel a page fault and a page of
// zeroes per 4 KiB on first touch, and the process a munmap (with its TLB shootdowns) when freed.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sluice {

class BufferPool {
 public:
  /// Keeps at most `maxIdle` buffers waiting; more given back are freed.
  explicit BufferPool(size_t maxIdle) : maxIdle_(maxIdle) {}

  /// A buffer of `bytes` bytes. A reused buffer keeps what it held before: the caller writes or
  /// clears every byte it will read. Only bytes past a reused buffer's old size are zeroes.
  std::vector<uint8_t> take(size_t bytes);

  /// Keeps `buffer` (its size and contents as they are) for a later take().
  void give(std::vector<uint8_t> buffer);

  /// Buffers waiting now.
  size_t idle() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::vector<uint8_t>> idle_;
  const size_t maxIdle_;
};

}  // namespace sluice
