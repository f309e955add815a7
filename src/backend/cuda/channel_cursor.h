#pragma once
// The channel of the elements a grid-stride loop visits in an NHWC tensor (channels fastest),
// without a 64-bit division per element: the GPU emulates those in dozens of instructions, which
// would make a memory-bound epilogue compute-bound. Host tests walk it against i % channels.

#include <cstdint>

#include "backend/cuda/host_device.h"

namespace sluice::backend::cuda {

/// Starts at element `first` and moves `stride` elements at a time; channel() is always
/// (first + k * stride) % channels after k calls to advance().
class ChannelCursor {
 public:
  SLUICE_HOST_DEVICE ChannelCursor(int64_t first, int64_t stride, int64_t channels)
      : channel_(first % channels), step_(stride % channels), channels_(channels) {}
  SLUICE_HOST_DEVICE int64_t channel() const { return channel_; }
  SLUICE_HOST_DEVICE void advance() {
    channel_ += step_;  // both below channels: one subtraction brings the sum back
    if (channel_ >= channels_) channel_ -= channels_;
  }

 private:
  int64_t channel_;
  int64_t step_;
  int64_t channels_;
};

}  // namespace sluice::backend::cuda
