#include "backend/cpu/cpu_executor.h"

#include <dnnl.hpp>

#include <algorithm>

#include "backend/cpu/execution_plan.h"
#include "backend/execution_steps.h"
#include "backend/cpu/thread_count.h"
#include "backend/cpu/weight_cache.h"

namespace sluice::backend {

namespace {
// Plans kept at once: a job typically uses its batch size and one smaller tail batch.
constexpr size_t kMaxCachedPlans = 4;
}  // namespace

struct CpuExecutor::State {
  model::Graph graph;
  CpuExecutorOptions options;
  std::vector<ExecutionStep> steps;  // point into `graph`
  int64_t outputSize = 0;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  WeightCache weights{engine};
  std::map<int64_t, std::unique_ptr<ExecutionPlan>> plans;
  std::vector<int64_t> recentBatchSizes;  // most recent last
};

CpuExecutor::CpuExecutor(std::unique_ptr<State> state) : state_(std::move(state)) {}
CpuExecutor::~CpuExecutor() = default;

Result<std::unique_ptr<CpuExecutor>> CpuExecutor::Make(model::Graph graph, CpuExecutorOptions options) {
  std::unique_ptr<State> state;
  try {
    state = std::make_unique<State>();
  } catch (const dnnl::error& error) {
    return Status::Internal(std::string("oneDNN cannot create a CPU engine: ") + error.what());
  }
  state->graph = std::move(graph);
  state->options = options;
  state->steps = planExecutionSteps(state->graph);
  SLUICE_ASSIGN_OR_RETURN(model::ShapeMap shapes, state->graph.inferShapes(1));
  const auto& outputDims = shapes.at(state->graph.outputName());
  state->outputSize = 1;
  for (size_t i = 1; i < outputDims.size(); ++i) state->outputSize *= outputDims[i];
  auto executor = std::unique_ptr<CpuExecutor>(new CpuExecutor(std::move(state)));
  // Build the batch-1 plan now so an unsupported model fails here, not in the first Run.
  SLUICE_RETURN_IF_ERROR(executor->planFor(1));
  return executor;
}

Result<ExecutionPlan*> CpuExecutor::planFor(int64_t batchSize) const {
  if (batchSize < 1) {
    return Status::InvalidArgument("the batch size must be at least 1, got " +
                                   std::to_string(batchSize));
  }
  State& state = *state_;
  setComputeThreads(state.options.numThreads);  // kernels are chosen for the thread count
  auto& recent = state.recentBatchSizes;
  recent.erase(std::remove(recent.begin(), recent.end(), batchSize), recent.end());
  recent.push_back(batchSize);
  auto it = state.plans.find(batchSize);
  if (it != state.plans.end()) return it->second.get();
  if (state.plans.size() >= kMaxCachedPlans) {
    state.plans.erase(recent.front());
    recent.erase(recent.begin());
  }
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<ExecutionPlan> plan,
      ExecutionPlan::Make(state.graph, state.steps, batchSize, state.engine, state.weights));
  ExecutionPlan* result = plan.get();
  state.plans[batchSize] = std::move(plan);
  return result;
}

Status CpuExecutor::Run(const float* input, int64_t batchSize, float* output) {
  SLUICE_ASSIGN_OR_RETURN(ExecutionPlan * plan, planFor(batchSize));
  return plan->run(state_->stream, input, output);
}

std::array<int64_t, 3> CpuExecutor::inputShape() const { return state_->graph.inputShape(); }

int64_t CpuExecutor::outputSize() const { return state_->outputSize; }

int64_t CpuExecutor::workspaceBytes(int64_t batchSize) const {
  Result<ExecutionPlan*> plan = planFor(batchSize);
  return plan.ok() ? (*plan)->workspaceBytes() : -1;
}

}  // namespace sluice::backend
