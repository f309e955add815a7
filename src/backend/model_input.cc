#include "backend/model_input.h"

namespace sluice::backend {

Status checkModelInput(const model::Graph& graph, const BackendOptions& options) {
  auto shape = graph.inputShape();
  if (shape[0] == 3 && shape[1] == options.cropHeight && shape[2] == options.cropWidth) return Status::OK();
  if (shape[0] != 3) {
    return Status::InvalidArgument("model " + options.modelPath + " expects images of " + std::to_string(shape[0]) +
                                   " channel(s); sluice feeds 3-channel RGB crops, so the model's input must be 3xHxW");
  }
  return Status::InvalidArgument("model " + options.modelPath + " expects images of " + std::to_string(shape[0]) + "x" +
                                 std::to_string(shape[1]) + "x" + std::to_string(shape[2]) +
                                 " (CxHxW) but crops are 3x" + std::to_string(options.cropHeight) + "x" +
                                 std::to_string(options.cropWidth) + "; set --crop-size to match the model");
}

}  // namespace sluice::backend
