#pragma once
// The CUDA inference backend: one GPU, two input slots so the copy of batch n+1 overlaps the
// compute of batch n. Per slot: pinned host crops -> device (copy stream), then one CUDA graph on
// the compute stream: normalize + layout + cast kernel, the model, softmax/top-k, and the copy of
// top-k (and logits when asked) back to pinned host memory. No CUDA headers here: the engine
// includes this file.

#include <memory>
#include <string>

#include "backend/inference_backend.h"

namespace sluice::backend::cuda {

class CudaBackend : public InferenceBackend {
 public:
  /// Loads the model onto GPU options.deviceIndex in options.precision, chooses the cuDNN
  /// algorithms, allocates everything, runs the model once and captures the CUDA graphs.
  static Result<std::unique_ptr<CudaBackend>> Make(const BackendOptions& options);
  /// At least memoryBytes() of any backend Make(options) returns, known before it is made: the
  /// pinned slots, with logits counted at the most classes the top-k kernel takes.
  static int64_t hostMemoryBound(const BackendOptions& options);
  ~CudaBackend() override;

  int slots() const override;
  uint8_t* inputSlot(int slot) override;
  Status launch(int slot, int64_t count) override;
  Result<BatchOutputs> wait(int slot) override;
  int64_t numClasses() const override;
  int topk() const override;
  int64_t memoryBytes() const override;
  std::string deviceName() const override;
  StepSeconds startupSteps() const override;

 private:
  struct State;
  explicit CudaBackend(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace sluice::backend::cuda
