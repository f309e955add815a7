#pragma once
// The oneDNN primitives, activation arena and argument bindings that run a graph for one batch
// size. Activations stay in the layouts oneDNN picks (e.g. nChw8c) between primitives and are
// reordered to plain NCHW only where an op needs it (Flatten, Reshape, Gemm, MatMul, Softmax).

#include <dnnl.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend/execution_steps.h"
#include "backend/cpu/weight_cache.h"
#include "model/graph.h"
#include "sluice/status.h"

namespace sluice::backend {

class ExecutionPlan {
 public:
  /// Builds the plan for `batchSize` images; unsupported op configurations -> Unsupported.
  static Result<std::unique_ptr<ExecutionPlan>> Make(const model::Graph& graph,
                                                     const std::vector<ExecutionStep>& steps,
                                                     int64_t batchSize, const dnnl::engine& engine,
                                                     WeightCache& weights);

  /// Runs the plan on `input` (batch × C × H × W, NCHW) into `output` (batch × outputSize).
  /// Called from one thread at a time.
  Status run(dnnl::stream& stream, const float* input, float* output);

  /// Activation arena plus scratchpad bytes this plan holds.
  int64_t workspaceBytes() const { return arenaBytes_ + scratchpadBytes_; }

 private:
  friend class PlanBuilder;
  ExecutionPlan() = default;

  // A oneDNN primitive with its arguments, or (no primitive) a pause: a sluice.Sleep node.
  struct Execution {
    dnnl::primitive primitive;
    std::unordered_map<int, dnnl::memory> args;
    std::chrono::nanoseconds pause{0};
  };

  std::vector<Execution> executions_;
  std::vector<dnnl::memory> inputMemories_;  // every view of the caller's input
  dnnl::memory outputMemory_;
  std::shared_ptr<void> arena_;
  std::shared_ptr<void> scratchpad_;
  int64_t arenaBytes_ = 0;
  int64_t scratchpadBytes_ = 0;
};

}  // namespace sluice::backend
