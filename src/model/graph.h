#pragma once
// sluice's model IR: a single-input image model (NCHW input, batch dimension dynamic) with one
// output, as a topologically ordered list of nodes over named values plus constant tensors.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/node.h"
#include "model/onnx_reader.h"
#include "model/tensor.h"
#include "sluice/status.h"

namespace sluice::model {

/// The ops sluice runs, in the order they are listed in error messages.
const std::vector<std::string>& supportedOps();

/// A benchmarking op, not a model op: ONNX op_type "Sleep" in domain "sluice" (read as
/// "sluice.Sleep"), one input, one output, float attribute `seconds`. Each executor run waits
/// that long, then passes its input on unchanged. It makes a model whose inference takes a known
/// time without using a core, to measure a pipeline's own overhead (tools/make_test_model.py
/// --arch sleep).
inline constexpr const char* kSleepOp = "sluice.Sleep";

/// The `seconds` of a sluice.Sleep node; InvalidArgument when it is missing, not a float,
/// negative or not finite.
Result<double> sleepSeconds(const Node& node);

/// The tensor a Constant node produces (attribute value, value_float(s) or value_int(s)).
Result<Tensor> constantNodeValue(const Node& node);

/// Shapes of every value (activations and constants) for one batch size.
using ShapeMap = std::map<std::string, std::vector<int64_t>>;

class Graph {
 public:
  /// Builds the IR from a parsed model: checks every op is supported ("node 'X' uses op 'Y',
  /// which sluice does not support; ..." -> Unsupported), that the nodes are in topological
  /// order, that there is one NCHW float input and one output, and that shapes infer.
  static Result<Graph> fromOnnx(OnnxModel model);

  int64_t opsetVersion() const { return opsetVersion_; }
  const std::string& inputName() const { return inputName_; }
  /// Channels, height and width of one input image.
  std::array<int64_t, 3> inputShape() const { return inputShape_; }
  const std::string& outputName() const { return outputName_; }

  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<Node>& mutableNodes() { return nodes_; }
  const std::map<std::string, Tensor>& initializers() const { return initializers_; }
  std::map<std::string, Tensor>& mutableInitializers() { return initializers_; }

  /// The constant tensor named `name` (an initializer), or nullptr for an activation.
  const Tensor* initializer(const std::string& name) const;

  /// Shapes of all values for `batchSize` images; fails with the node at fault.
  Result<ShapeMap> inferShapes(int64_t batchSize) const;

  /// Number of nodes that read `value` (counting a node once per input slot).
  int numConsumers(const std::string& value) const;

  /// Replaces every use of `from` (node inputs and the graph output) by `to`.
  void renameUses(const std::string& from, const std::string& to);

 private:
  int64_t opsetVersion_ = 0;
  std::string inputName_;
  std::array<int64_t, 3> inputShape_{};
  std::string outputName_;
  std::vector<Node> nodes_;
  std::map<std::string, Tensor> initializers_;
};

}  // namespace sluice::model
