#pragma once
// The CPU inference backend: normalizes uint8 crops into float32 NCHW, runs the oneDNN executor
// and takes the top-k, all inside launch() (one slot: nothing runs in the background).

#include <memory>
#include <vector>

#include "backend/cpu/cpu_executor.h"
#include "backend/inference_backend.h"

namespace sluice::backend {

class CpuBackend : public InferenceBackend {
 public:
  /// Loads the model and prepares the executor for options.batchSize. A model whose input is not
  /// 3 x cropHeight x cropWidth is a usage error that says which crop size it needs; so is a
  /// precision other than fp32.
  static Result<std::unique_ptr<CpuBackend>> Make(const BackendOptions& options);

  int slots() const override { return 1; }
  uint8_t* inputSlot(int) override { return crops_.data(); }
  Status launch(int slot, int64_t count) override;
  Result<BatchOutputs> wait(int slot) override;
  int64_t numClasses() const override { return numClasses_; }
  int topk() const override { return topk_; }
  int64_t memoryBytes() const override { return memoryBytes_; }
  std::string deviceName() const override { return deviceName_; }
  StepSeconds startupSteps() const override { return startupSteps_; }

 private:
  CpuBackend() = default;

  BackendOptions options_;
  std::unique_ptr<CpuExecutor> executor_;
  std::vector<uint8_t> crops_;       // the slot: batchSize x H x W x 3
  std::vector<float> normalized_;    // batchSize x 3 x H x W
  std::vector<float> outputs_;       // batchSize x numClasses
  std::vector<int32_t> topkLabels_;  // batchSize x topk
  std::vector<float> topkScores_;    // batchSize x topk
  Status launched_ = Status::Internal("wait() before launch()");
  int64_t numClasses_ = 0;
  int topk_ = 0;
  bool outputsProbabilities_ = false;
  int64_t memoryBytes_ = 0;
  std::string deviceName_;
  StepSeconds startupSteps_;
};

}  // namespace sluice::backend
