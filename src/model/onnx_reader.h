#pragma once
// Reads an ONNX ModelProto (the graph, its initializers, inputs and outputs, and the opset) with
// the wire decoder in protobuf_wire_reader.h, so sluice needs neither libprotobuf nor libonnx.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/node.h"
#include "model/tensor.h"
#include "sluice/status.h"

namespace sluice::model {

/// A graph input or output: its name and shape, -1 for a symbolic or unknown dimension.
struct ValueInfo {
  std::string name;
  std::vector<int64_t> dims;
};

/// The parts of an ONNX model sluice uses, as read from the file.
struct OnnxModel {
  int64_t opsetVersion = 0;  // of the default ("" or "ai.onnx") domain
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs;  // may include initializers (older exporters list them)
  std::vector<ValueInfo> outputs;
};

/// Parses a serialized ModelProto. `sourceName` names the model in error messages.
Result<OnnxModel> parseOnnxModel(std::string_view bytes, const std::string& sourceName);

/// Reads and parses the ONNX file at `path`; a missing, non-ONNX or truncated file is
/// InvalidArgument ("model PATH is not a valid ONNX file: ..."), an unsupported tensor encoding
/// (external data, a data type other than float/int64/int32) is Unsupported naming the tensor.
Result<OnnxModel> readOnnxFile(const std::string& path);

}  // namespace sluice::model
