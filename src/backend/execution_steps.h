#pragma once
// Turns graph nodes into executor steps, fusing what oneDNN can run as one primitive:
// Conv + Add (the other addend pre-fills the destination, a `sum` post-op) and Conv [+ Add] + Relu.

#include <string>
#include <vector>

#include "model/graph.h"

namespace sluice::backend {

struct ExecutionStep {
  const model::Node* node = nullptr;  // the op this step runs (Conv for fused steps)
  std::vector<std::string> inputs;    // activation values read, in node input order
  std::string output;                 // the value this step produces
  std::string sumInput;               // Conv only: value added to the result before the ReLU
  bool fuseRelu = false;              // Conv only: ReLU applied to the result
};

/// The steps for `graph`, in an order where every value is produced before it is read.
std::vector<ExecutionStep> planExecutionSteps(const model::Graph& graph);

}  // namespace sluice::backend
