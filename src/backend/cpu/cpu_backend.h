#pragma once
// The CPU inference backend: normalizes uint8 crops into float32 NCHW and runs the oneDNN executor.

#include <memory>
#include <vector>

#include "backend/cpu/cpu_executor.h"
#include "backend/inference_backend.h"

namespace sluice::backend {

class CpuBackend : public InferenceBackend {
 public:
  /// Loads the model and prepares the executor for options.batchSize. A model whose input is not
  /// 3 x cropHeight x cropWidth is a usage error that says which crop size it needs.
  static Result<std::unique_ptr<CpuBackend>> Make(const BackendOptions& options);

  Status infer(const uint8_t* crops, int64_t count, float* outputs) override;
  int64_t numClasses() const override { return numClasses_; }
  bool outputsProbabilities() const override { return outputsProbabilities_; }
  int64_t memoryBytes() const override { return memoryBytes_; }
  std::string deviceName() const override { return deviceName_; }

 private:
  CpuBackend() = default;

  BackendOptions options_;
  std::unique_ptr<CpuExecutor> executor_;
  std::vector<float> normalized_;  // batchSize x 3 x H x W
  std::vector<float> outputs_;     // batchSize x numClasses
  int64_t numClasses_ = 0;
  bool outputsProbabilities_ = false;
  int64_t memoryBytes_ = 0;
  std::string deviceName_;
};

}  // namespace sluice::backend
