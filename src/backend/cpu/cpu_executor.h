#pragma once
// Runs a model graph on the CPU with oneDNN (fp32). It is also the reference the GPU executor is
// tested against.

#include <array>
#include <cstdint>
#include <map>
#include <memory>

#include "model/graph.h"
#include "sluice/status.h"

namespace sluice::backend {

struct CpuExecutorOptions {
  int numThreads = 0;  // 0 = all cores
};

class CpuExecutor {
 public:
  /// Prepares `graph` (after model::runStandardPasses) for execution and keeps it: move it in
  /// unless the caller needs it afterwards (a copy duplicates every weight). Unsupported op
  /// configurations -> Unsupported.
  static Result<std::unique_ptr<CpuExecutor>> Make(model::Graph graph, CpuExecutorOptions options);
  ~CpuExecutor();

  /// input: batchSize × C × H × W float32, contiguous NCHW; output: batchSize × outputSize()
  /// float32. Called from one thread at a time. Plans are built per batch size and cached.
  Status Run(const float* input, int64_t batchSize, float* output);

  /// Channels, height and width of one input image.
  std::array<int64_t, 3> inputShape() const;
  /// Output values per image (e.g. 1000 logits).
  int64_t outputSize() const;
  /// Activation memory (arena + scratchpad) a plan for `batchSize` holds, building the plan if
  /// needed; -1 if it cannot be built. Called from one thread at a time, like Run.
  int64_t workspaceBytes(int64_t batchSize) const;

 private:
  struct State;
  explicit CpuExecutor(std::unique_ptr<State> state);
  Result<class ExecutionPlan*> planFor(int64_t batchSize) const;

  std::unique_ptr<State> state_;
};

}  // namespace sluice::backend
