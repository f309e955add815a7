#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <thread>

#include "backend/model_input.h"
#include "backend/topk.h"
#include "model/model_loader.h"

namespace sluice::backend {

Result<std::unique_ptr<CpuBackend>> CpuBackend::Make(const BackendOptions& options) {
  if (options.precision != Precision::kFp32) {
    return Status::InvalidArgument("the CPU backend runs fp32 only, not " + precisionName(options.precision) +
                                   "; use --precision fp32 or a CUDA device");
  }
  if (options.topk < 1) return Status::InvalidArgument("topk must be at least 1");
  auto backend = std::unique_ptr<CpuBackend>(new CpuBackend());
  backend->options_ = options;
  StepClock clock(backend->startupSteps_);
  SLUICE_ASSIGN_OR_RETURN(auto graph, model::loadModel(options.modelPath));
  SLUICE_RETURN_IF_ERROR(checkModelInput(graph, options));
  clock.step("load model");
  int64_t weightBytes = 0;
  for (const auto& [name, tensor] : graph.initializers()) {
    weightBytes += static_cast<int64_t>(tensor.floats.size() * sizeof(float) + tensor.ints.size() * sizeof(int64_t));
  }
  backend->outputsProbabilities_ = !graph.nodes().empty() && graph.nodes().back().opType == "Softmax";
  CpuExecutorOptions executorOptions;
  executorOptions.numThreads = options.threads;
  SLUICE_ASSIGN_OR_RETURN(backend->executor_, CpuExecutor::Make(std::move(graph), executorOptions));
  clock.step("oneDNN executor");
  backend->numClasses_ = backend->executor_->outputSize();
  backend->topk_ = static_cast<int>(std::min<int64_t>(options.topk, backend->numClasses_));
  const int64_t imageValues = 3 * int64_t{options.cropHeight} * options.cropWidth;
  backend->crops_.assign(options.batchSize * imageValues, 0);
  backend->normalized_.assign(options.batchSize * imageValues, 0.0f);
  backend->outputs_.assign(options.batchSize * backend->numClasses_, 0.0f);
  backend->topkLabels_.assign(options.batchSize * backend->topk_, 0);
  backend->topkScores_.assign(options.batchSize * backend->topk_, 0.0f);
  int64_t workspace = backend->executor_->workspaceBytes(options.batchSize);
  clock.step("buffers");
  if (workspace < 0) {
    return Status::InvalidArgument("model " + options.modelPath + " cannot run with batch size " +
                                   std::to_string(options.batchSize));
  }
  // The executor keeps its own (reordered) copy of the weights.
  backend->memoryBytes_ = weightBytes + workspace + static_cast<int64_t>(backend->crops_.size()) +
                          static_cast<int64_t>((backend->normalized_.size() + backend->outputs_.size() +
                                                2 * backend->topkLabels_.size()) *
                                               sizeof(float));
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  backend->deviceName_ = "cpu (oneDNN, " + std::to_string(threads) + " threads)";
  return backend;
}

Status CpuBackend::launch(int slot, int64_t count) {
  if (slot != 0 || count < 1 || count > options_.batchSize) {
    return Status::Internal("launch of slot " + std::to_string(slot) + " with " + std::to_string(count) +
                            " images on a backend with one slot of " + std::to_string(options_.batchSize));
  }
  // Always run the full batch size: one plan, one workspace, and results that do not depend on
  // how the rows happened to fall into batches. Padding rows are zeros and their outputs dropped.
  const int64_t imageValues = 3 * int64_t{options_.cropHeight} * options_.cropWidth;
  image::normalizeToNchw(crops_.data(), count, options_.cropHeight, options_.cropWidth, options_.normalization,
                         normalized_.data());
  std::fill(normalized_.begin() + count * imageValues, normalized_.end(), 0.0f);
  launched_ = executor_->Run(normalized_.data(), options_.batchSize, outputs_.data());
  if (!launched_.ok()) return launched_;
  for (int64_t i = 0; i < count; ++i) {
    softmaxTopK(outputs_.data() + i * numClasses_, numClasses_, topk_, outputsProbabilities_,
                topkLabels_.data() + i * topk_, topkScores_.data() + i * topk_);
  }
  return Status::OK();
}

Result<BatchOutputs> CpuBackend::wait(int slot) {
  if (slot != 0) return Status::Internal("wait on slot " + std::to_string(slot) + " of a one-slot backend");
  SLUICE_RETURN_IF_ERROR(launched_);
  return BatchOutputs{.topkLabels = topkLabels_.data(),
                      .topkScores = topkScores_.data(),
                      .logits = options_.returnLogits ? outputs_.data() : nullptr};
}

}  // namespace sluice::backend
