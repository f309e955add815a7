#pragma once
// Graph rewrites run after import, each preserving the model's outputs (up to float rounding).

#include "model/graph.h"
#include "sluice/status.h"

namespace sluice::model {

/// Turns every Constant node into an initializer of the same name.
Status convertConstantsToInitializers(Graph& graph);

/// Removes Identity nodes, making their consumers read the Identity's input.
Status removeIdentities(Graph& graph);

/// Folds a BatchNormalization into the Conv that produces its input when nothing else reads the
/// conv output: w' = w * s, b' = (b - mean) * s + beta with s = scale / sqrt(var + epsilon).
/// A BatchNormalization that does not follow such a Conv stays in the graph.
Status foldBatchNormIntoConv(Graph& graph);

/// Drops initializers no node reads.
void removeUnusedInitializers(Graph& graph);

/// The passes every executor wants, in order.
Status runStandardPasses(Graph& graph);

}  // namespace sluice::model
