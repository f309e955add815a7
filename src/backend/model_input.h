#pragma once
// The check every backend makes when it loads a model: its input must take the job's crops.

#include "backend/inference_backend.h"
#include "model/graph.h"

namespace sluice::backend {

/// A model whose input is not 3 x cropHeight x cropWidth is a usage error (InvalidArgument) that
/// says which crop size the model needs.
Status checkModelInput(const model::Graph& graph, const BackendOptions& options);

}  // namespace sluice::backend
