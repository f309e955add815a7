#pragma once
// The one call executors and the CLI use to get a runnable graph from an ONNX file.

#include <string>

#include "model/graph.h"
#include "sluice/status.h"

namespace sluice::model {

/// Reads `path`, builds the IR and runs the standard passes. Every error names the file.
Result<Graph> loadModel(const std::string& path);

}  // namespace sluice::model
