#include "model/model_loader.h"

#include "model/onnx_reader.h"
#include "model/passes.h"

namespace sluice::model {

Result<Graph> loadModel(const std::string& path) {
  SLUICE_ASSIGN_OR_RETURN(OnnxModel onnx, readOnnxFile(path));
  Result<Graph> graph = Graph::fromOnnx(std::move(onnx));
  if (!graph.ok()) return graph.status().withContext("model " + path);
  Status status = runStandardPasses(*graph);
  if (!status.ok()) return status.withContext("model " + path);
  return graph;
}

}  // namespace sluice::model
