#pragma once
// Places activation buffers in one arena so that buffers alive at the same time never overlap
// and a buffer's bytes are reused once its last reader has run (liveness-based reuse).

#include <cstdint>
#include <vector>

namespace sluice::backend {

/// A buffer of `bytes`, first written at step `firstUse`, last read at step `lastUse` (inclusive).
struct BufferRequest {
  int64_t bytes = 0;
  int firstUse = 0;
  int lastUse = 0;
};

struct BufferLayout {
  std::vector<int64_t> offsets;  // one per request, each a multiple of the alignment
  int64_t totalBytes = 0;        // arena size
};

/// Greedy best-fit by decreasing size: each buffer goes to the lowest offset that does not
/// overlap a buffer whose lifetime intersects its own.
BufferLayout assignBuffers(const std::vector<BufferRequest>& requests, int64_t alignment = 64);

}  // namespace sluice::backend
