#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <thread>

#include "model/model_loader.h"

namespace sluice::backend {

Result<std::unique_ptr<CpuBackend>> CpuBackend::Make(const BackendOptions& options) {
  auto backend = std::unique_ptr<CpuBackend>(new CpuBackend());
  backend->options_ = options;
  SLUICE_ASSIGN_OR_RETURN(auto graph, model::loadModel(options.modelPath));
  auto shape = graph.inputShape();
  if (shape[0] != 3 || shape[1] != options.cropHeight || shape[2] != options.cropWidth) {
    return Status::InvalidArgument("model " + options.modelPath + " expects images of " + std::to_string(shape[0]) +
                                   "x" + std::to_string(shape[1]) + "x" + std::to_string(shape[2]) +
                                   " (CxHxW) but crops are 3x" + std::to_string(options.cropHeight) + "x" +
                                   std::to_string(options.cropWidth) + "; set --crop-size to match the model");
  }
  int64_t weightBytes = 0;
  for (const auto& [name, tensor] : graph.initializers()) {
    weightBytes += static_cast<int64_t>(tensor.floats.size() * sizeof(float) + tensor.ints.size() * sizeof(int64_t));
  }
  backend->outputsProbabilities_ = !graph.nodes().empty() && graph.nodes().back().opType == "Softmax";
  CpuExecutorOptions executorOptions;
  executorOptions.numThreads = options.threads;
  SLUICE_ASSIGN_OR_RETURN(backend->executor_, CpuExecutor::Make(graph, executorOptions));
  backend->numClasses_ = backend->executor_->outputSize();
  backend->normalized_.assign(options.batchSize * 3 * options.cropHeight * options.cropWidth, 0.0f);
  backend->outputs_.assign(options.batchSize * backend->numClasses_, 0.0f);
  int64_t workspace = backend->executor_->workspaceBytes(options.batchSize);
  if (workspace < 0) {
    return Status::InvalidArgument("model " + options.modelPath + " cannot run with batch size " +
                                   std::to_string(options.batchSize));
  }
  // The executor keeps its own (reordered) copy of the weights.
  backend->memoryBytes_ = weightBytes + workspace +
                          static_cast<int64_t>((backend->normalized_.size() + backend->outputs_.size()) * sizeof(float));
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  backend->deviceName_ = "cpu (oneDNN, " + std::to_string(threads) + " threads)";
  return backend;
}

Status CpuBackend::infer(const uint8_t* crops, int64_t count, float* outputs) {
  if (count > options_.batchSize) return Status::Internal("batch of " + std::to_string(count) + " exceeds batch size");
  // Always run the full batch size: one plan, one workspace, and results that do not depend on
  // how the rows happened to fall into batches. Padding rows are zeros and their outputs dropped.
  const int64_t imageValues = 3 * int64_t{options_.cropHeight} * options_.cropWidth;
  image::normalizeToNchw(crops, count, options_.cropHeight, options_.cropWidth, options_.normalization,
                         normalized_.data());
  std::fill(normalized_.begin() + count * imageValues, normalized_.end(), 0.0f);
  SLUICE_RETURN_IF_ERROR(executor_->Run(normalized_.data(), options_.batchSize, outputs_.data()));
  std::copy_n(outputs_.data(), count * numClasses_, outputs);
  return Status::OK();
}

}  // namespace sluice::backend
