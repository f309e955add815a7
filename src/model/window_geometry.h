#pragma once
// The geometry of a 2-D sliding window (Conv, MaxPool, AveragePool): kernel, strides, dilations,
// the padding each side and the output size, resolved from ONNX attributes (auto_pad, ceil_mode).
// Shape inference and the executors both use it, so they agree on every output size.

#include <array>
#include <cstdint>

#include "model/node.h"
#include "sluice/status.h"

namespace sluice::model {

struct WindowGeometry {
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> strides{1, 1};
  std::array<int64_t, 2> dilations{1, 1};
  std::array<int64_t, 2> padsBegin{0, 0};
  // ONNX padding at the end; a ceil_mode window may reach past it (see effectivePadsEnd).
  std::array<int64_t, 2> padsEnd{0, 0};
  std::array<int64_t, 2> output{0, 0};
  bool ceilMode = false;

  /// The end padding that makes floor((in + begin + end - extent) / stride) + 1 == output,
  /// i.e. what a library that only knows floor mode needs to produce the same output size.
  std::array<int64_t, 2> effectivePadsEnd(std::array<int64_t, 2> input) const;

  /// Whether padding both ends by padsBegin (all that cuDNN knows) gives this window's output size,
  /// and so the same windows: true for the usual symmetric pads also where the stride does not
  /// divide the padded input, and the last window stops short of the end padding.
  bool matchesSymmetricPadding(std::array<int64_t, 2> input) const;
};

/// Resolves the window of `node` over an input of spatial size `input` (H, W). `kernel` is the
/// weight's spatial size for Conv; pooling ops read kernel_shape. Invalid attributes -> InvalidArgument.
Result<WindowGeometry> resolveWindow(const Node& node, std::array<int64_t, 2> input,
                                     std::array<int64_t, 2> kernel);

}  // namespace sluice::model
