#include "model/window_geometry.h"

#include <algorithm>
#include <string>
#include <vector>

namespace sluice::model {

std::array<int64_t, 2> WindowGeometry::effectivePadsEnd(std::array<int64_t, 2> input) const {
  std::array<int64_t, 2> pads{};
  for (int i = 0; i < 2; ++i) {
    const int64_t extent = (kernel[i] - 1) * dilations[i] + 1;
    pads[i] = (output[i] - 1) * strides[i] + extent - input[i] - padsBegin[i];
  }
  return pads;
}

bool WindowGeometry::matchesSymmetricPadding(std::array<int64_t, 2> input) const {
  const std::array<int64_t, 2> needed = effectivePadsEnd(input);
  for (int i = 0; i < 2; ++i) {
    // floor((in + 2 * begin - extent) / stride) + 1 == output  <=>  needed <= begin < needed + stride
    if (padsBegin[i] < needed[i] || padsBegin[i] >= needed[i] + strides[i]) return false;
  }
  return true;
}

Result<WindowGeometry> resolveWindow(const Node& node, std::array<int64_t, 2> input,
                                     std::array<int64_t, 2> kernel) {
  const std::string where = "node '" + node.name + "' (" + node.opType + ")";
  WindowGeometry window;
  std::vector<int64_t> kernelShape = node.intsAttribute("kernel_shape", {kernel[0], kernel[1]});
  std::vector<int64_t> strides = node.intsAttribute("strides", {1, 1});
  std::vector<int64_t> dilations = node.intsAttribute("dilations", {1, 1});
  std::vector<int64_t> pads = node.intsAttribute("pads", {0, 0, 0, 0});
  if (kernelShape.size() != 2 || strides.size() != 2 || dilations.size() != 2 ||
      pads.size() != 4) {
    return Status::Unsupported(where + " is not a 2-D window; sluice supports 2-D images only");
  }
  for (int i = 0; i < 2; ++i) {
    window.kernel[i] = kernelShape[i];
    window.strides[i] = strides[i];
    window.dilations[i] = dilations[i];
    window.padsBegin[i] = pads[i];
    window.padsEnd[i] = pads[i + 2];
    if (kernelShape[i] < 1 || strides[i] < 1 || dilations[i] < 1 || pads[i] < 0 ||
        pads[i + 2] < 0) {
      return Status::InvalidArgument(where + " has a non-positive kernel, stride or dilation, or "
                                     "a negative pad");
    }
  }
  if (node.opType == "Conv" && (kernel[0] != window.kernel[0] || kernel[1] != window.kernel[1])) {
    return Status::InvalidArgument(where + " has a kernel_shape that differs from its weights");
  }
  window.ceilMode = node.intAttribute("ceil_mode", 0) != 0;
  const std::string autoPad = node.stringAttribute("auto_pad", "NOTSET");
  for (int i = 0; i < 2; ++i) {
    const int64_t extent = (window.kernel[i] - 1) * window.dilations[i] + 1;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      const int64_t output = (input[i] + window.strides[i] - 1) / window.strides[i];
      const int64_t total =
          std::max<int64_t>(0, (output - 1) * window.strides[i] + extent - input[i]);
      const int64_t small = total / 2;
      window.padsBegin[i] = autoPad == "SAME_UPPER" ? small : total - small;
      window.padsEnd[i] = total - window.padsBegin[i];
      window.output[i] = output;
      continue;
    }
    if (autoPad == "VALID") {
      window.padsBegin[i] = 0;
      window.padsEnd[i] = 0;
    } else if (autoPad != "NOTSET") {
      return Status::InvalidArgument(where + " has auto_pad '" + autoPad +
                                     "'; expected NOTSET, VALID, SAME_UPPER or SAME_LOWER");
    }
    const int64_t span = input[i] + window.padsBegin[i] + window.padsEnd[i] - extent;
    if (span < 0) {
      return Status::InvalidArgument(where + " has a window larger than its padded input");
    }
    int64_t output = span / window.strides[i] + 1;
    if (window.ceilMode) {
      output = (span + window.strides[i] - 1) / window.strides[i] + 1;
      // The last window must start inside the input or its left padding (as PyTorch and
      // onnxruntime do); otherwise it would only cover padding.
      if ((output - 1) * window.strides[i] >= input[i] + window.padsBegin[i]) --output;
    }
    window.output[i] = output;
  }
  return window;
}

}  // namespace sluice::model
