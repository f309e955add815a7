#include "model/graph.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "model/window_geometry.h"

namespace sluice::model {

namespace {

using Dims = std::vector<int64_t>;

std::string dimsToString(const Dims& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(dims[i]);
  }
  return text + "]";
}

int64_t product(const Dims& dims, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t i = begin; i < end; ++i) result *= dims[i];
  return result;
}

// Numpy-style broadcasting of two shapes; empty optional-like result signals incompatibility.
bool broadcastShapes(const Dims& a, const Dims& b, Dims& result) {
  const size_t rank = std::max(a.size(), b.size());
  result.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    result[i] = da == 1 ? db : da;
  }
  return true;
}

class ShapeInference {
 public:
  ShapeInference(const Graph& graph, int64_t batchSize) : graph_(graph), batchSize_(batchSize) {}

  Result<ShapeMap> run() {
    for (const auto& [name, tensor] : graph_.initializers()) shapes_[name] = tensor.dims;
    auto input = graph_.inputShape();
    shapes_[graph_.inputName()] = {batchSize_, input[0], input[1], input[2]};
    for (const Node& node : graph_.nodes()) {
      Status status = inferNode(node);
      if (!status.ok()) {
        return Status(status).withContext("node '" + node.name + "' (" + node.opType + ")");
      }
    }
    return std::move(shapes_);
  }

 private:
  Result<Dims> shapeOf(const Node& node, size_t index) const {
    if (index >= node.inputs.size() || node.inputs[index].empty()) {
      return Status::InvalidArgument("input " + std::to_string(index) + " is missing");
    }
    auto it = shapes_.find(node.inputs[index]);
    if (it == shapes_.end()) {
      return Status::InvalidArgument("input '" + node.inputs[index] + "' is not defined");
    }
    return it->second;
  }

  const Tensor* constant(const std::string& name) const {
    if (const Tensor* tensor = graph_.initializer(name)) return tensor;
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : &it->second;
  }

  Status requireRank(const Dims& dims, size_t rank, const char* what) const {
    if (dims.size() != rank) {
      return Status::InvalidArgument(std::string(what) + " has shape " + dimsToString(dims) +
                                     ", expected rank " + std::to_string(rank));
    }
    return Status::OK();
  }

  Status inferNode(const Node& node) {
    const std::string& op = node.opType;
    Dims out;
    if (op == "Constant") {
      SLUICE_ASSIGN_OR_RETURN(Tensor tensor, constantNodeValue(node));
      out = tensor.dims;
      constants_[node.outputs.at(0)] = std::move(tensor);
    } else if (op == "Conv") {
      SLUICE_ASSIGN_OR_RETURN(Dims x, shapeOf(node, 0));
      SLUICE_ASSIGN_OR_RETURN(Dims w, shapeOf(node, 1));
      SLUICE_RETURN_IF_ERROR(requireRank(x, 4, "the input"));
      SLUICE_RETURN_IF_ERROR(requireRank(w, 4, "the weight"));
      if (!constant(node.inputs[1])) {
        return Status::Unsupported("the weight is not a constant");
      }
      const int64_t group = node.intAttribute("group", 1);
      if (group < 1 || x[1] % group != 0 || w[0] % group != 0 || w[1] * group != x[1]) {
        return Status::InvalidArgument("input channels " + std::to_string(x[1]) + ", weight " +
                                       dimsToString(w) + " and group " + std::to_string(group) +
                                       " do not agree");
      }
      if (node.numPresentInputs() > 2) {
        SLUICE_ASSIGN_OR_RETURN(Dims b, shapeOf(node, 2));
        if (b != Dims{w[0]} || !constant(node.inputs[2])) {
          return Status::InvalidArgument("the bias must be a constant of shape [" +
                                         std::to_string(w[0]) + "]");
        }
      }
      SLUICE_ASSIGN_OR_RETURN(WindowGeometry window,
                              resolveWindow(node, {x[2], x[3]}, {w[2], w[3]}));
      out = {x[0], w[0], window.output[0], window.output[1]};
    } else if (op == "MaxPool" || op == "AveragePool") {
      SLUICE_ASSIGN_OR_RETURN(Dims x, shapeOf(node, 0));
      SLUICE_RETURN_IF_ERROR(requireRank(x, 4, "the input"));
      if (!node.hasAttribute("kernel_shape")) return Status::InvalidArgument("no kernel_shape");
      if (op == "MaxPool" && node.outputs.size() > 1 && !node.outputs[1].empty()) {
        return Status::Unsupported("the Indices output of MaxPool is not supported");
      }
      if (op == "MaxPool" && node.intAttribute("storage_order", 0) != 0) {
        return Status::Unsupported("storage_order=1 is not supported");
      }
      SLUICE_ASSIGN_OR_RETURN(WindowGeometry window, resolveWindow(node, {x[2], x[3]}, {1, 1}));
      if (op == "AveragePool" && (window.dilations[0] != 1 || window.dilations[1] != 1)) {
        return Status::Unsupported("dilated AveragePool is not supported");
      }
      out = {x[0], x[1], window.output[0], window.output[1]};
    } else if (op == "GlobalAveragePool") {
      SLUICE_ASSIGN_OR_RETURN(Dims x, shapeOf(node, 0));
      SLUICE_RETURN_IF_ERROR(requireRank(x, 4, "the input"));
      out = {x[0], x[1], 1, 1};
    } else if (op == "BatchNormalization") {
      SLUICE_ASSIGN_OR_RETURN(Dims x, shapeOf(node, 0));
      if (x.size() < 2) return Status::InvalidArgument("the input has rank below 2");
      if (node.intAttribute("training_mode", 0) != 0 ||
          (node.outputs.size() > 1 &&
           std::any_of(node.outputs.begin() + 1, node.outputs.end(),
                       [](const std::string& name) { return !name.empty(); }))) {
        return Status::Unsupported("training-mode BatchNormalization is not supported");
      }
      for (size_t i = 1; i < 5; ++i) {
        SLUICE_ASSIGN_OR_RETURN(Dims p, shapeOf(node, i));
        if (p != Dims{x[1]} || !constant(node.inputs[i])) {
          return Status::InvalidArgument("parameter '" + node.inputs[i] +
                                         "' must be a constant of shape [" +
                                         std::to_string(x[1]) + "]");
        }
      }
      out = x;
    } else if (op == "Relu" || op == "Identity") {
      SLUICE_ASSIGN_OR_RETURN(out, shapeOf(node, 0));
    } else if (op == kSleepOp) {
      SLUICE_RETURN_IF_ERROR(sleepSeconds(node).status());
      SLUICE_ASSIGN_OR_RETURN(out, shapeOf(node, 0));
    } else if (op == "Softmax") {
      SLUICE_ASSIGN_OR_RETURN(out, shapeOf(node, 0));
      const int64_t rank = static_cast<int64_t>(out.size());
      const int64_t axis = node.intAttribute("axis", graph_.opsetVersion() >= 13 ? -1 : 1);
      if (axis < -rank || axis >= rank) return Status::InvalidArgument("axis is out of range");
    } else if (op == "Add") {
      SLUICE_ASSIGN_OR_RETURN(Dims a, shapeOf(node, 0));
      SLUICE_ASSIGN_OR_RETURN(Dims b, shapeOf(node, 1));
      if (!broadcastShapes(a, b, out)) {
        return Status::InvalidArgument("shapes " + dimsToString(a) + " and " + dimsToString(b) +
                                       " do not broadcast");
      }
    } else if (op == "Flatten") {
      SLUICE_ASSIGN_OR_RETURN(Dims x, shapeOf(node, 0));
      const int64_t rank = static_cast<int64_t>(x.size());
      int64_t axis = node.intAttribute("axis", 1);
      if (axis < 0) axis += rank;
      if (axis < 0 || axis > rank) return Status::InvalidArgument("axis is out of range");
      out = {product(x, 0, axis), product(x, axis, rank)};
    } else if (op == "Reshape") {
      SLUICE_ASSIGN_OR_RETURN(Dims x, shapeOf(node, 0));
      const Tensor* shape = node.inputs.size() > 1 ? constant(node.inputs[1]) : nullptr;
      if (!shape || shape->dataType != DataType::kInt64) {
        return Status::Unsupported("the target shape is not a constant int64 tensor");
      }
      if (node.intAttribute("allowzero", 0) != 0) {
        return Status::Unsupported("allowzero=1 is not supported");
      }
      out = shape->ints;
      int inferred = -1;
      int64_t known = 1;
      for (size_t i = 0; i < out.size(); ++i) {
        if (out[i] == 0) {
          if (i >= x.size()) return Status::InvalidArgument("a 0 in the shape has no input dim");
          out[i] = x[i];
        }
        if (out[i] == -1) {
          if (inferred >= 0) return Status::InvalidArgument("the shape has two -1 entries");
          inferred = static_cast<int>(i);
        } else if (out[i] < 0) {
          return Status::InvalidArgument("the shape has a negative entry");
        } else {
          known *= out[i];
        }
      }
      const int64_t total = product(x, 0, x.size());
      if (inferred >= 0) {
        if (known == 0 || total % known != 0) {
          return Status::InvalidArgument("cannot reshape " + dimsToString(x) + " to " +
                                         dimsToString(shape->ints));
        }
        out[inferred] = total / known;
      }
      if (product(out, 0, out.size()) != total) {
        return Status::InvalidArgument("cannot reshape " + dimsToString(x) + " to " +
                                       dimsToString(shape->ints));
      }
    } else if (op == "Gemm") {
      SLUICE_ASSIGN_OR_RETURN(Dims a, shapeOf(node, 0));
      SLUICE_ASSIGN_OR_RETURN(Dims b, shapeOf(node, 1));
      SLUICE_RETURN_IF_ERROR(requireRank(a, 2, "A"));
      SLUICE_RETURN_IF_ERROR(requireRank(b, 2, "B"));
      if (!constant(node.inputs[1])) return Status::Unsupported("B is not a constant");
      const bool transA = node.intAttribute("transA", 0) != 0;
      const bool transB = node.intAttribute("transB", 0) != 0;
      const int64_t m = transA ? a[1] : a[0], k = transA ? a[0] : a[1];
      const int64_t kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1];
      if (k != kb) {
        return Status::InvalidArgument("A " + dimsToString(a) + " and B " + dimsToString(b) +
                                       " do not multiply");
      }
      out = {m, n};
      if (node.numPresentInputs() > 2) {
        SLUICE_ASSIGN_OR_RETURN(Dims c, shapeOf(node, 2));
        const Tensor* bias = constant(node.inputs[2]);
        if (!bias || (bias->numElements() != 1 && bias->numElements() != n)) {
          return Status::Unsupported("C must be a constant scalar or a [" + std::to_string(n) +
                                     "] row (got " + dimsToString(c) + ")");
        }
      }
    } else if (op == "MatMul") {
      SLUICE_ASSIGN_OR_RETURN(Dims a, shapeOf(node, 0));
      SLUICE_ASSIGN_OR_RETURN(Dims b, shapeOf(node, 1));
      if (a.size() < 2) return Status::Unsupported("A of rank below 2 is not supported");
      SLUICE_RETURN_IF_ERROR(requireRank(b, 2, "B"));
      if (!constant(node.inputs[1])) return Status::Unsupported("B is not a constant");
      if (a.back() != b[0]) {
        return Status::InvalidArgument("A " + dimsToString(a) + " and B " + dimsToString(b) +
                                       " do not multiply");
      }
      out = a;
      out.back() = b[1];
    } else {
      return Status::Unsupported("op is not supported");
    }
    if (node.outputs.empty() || node.outputs[0].empty()) {
      return Status::InvalidArgument("the node has no output");
    }
    shapes_[node.outputs[0]] = std::move(out);
    return Status::OK();
  }

  const Graph& graph_;
  int64_t batchSize_;
  ShapeMap shapes_;
  std::map<std::string, Tensor> constants_;
};

}  // namespace

const std::vector<std::string>& supportedOps() {
  static const std::vector<std::string> kOps = {
      "Conv",    "BatchNormalization", "Relu",   "MaxPool", "AveragePool",
      "GlobalAveragePool", "Add",     "Flatten", "Reshape", "Gemm",
      "MatMul",  "Softmax", "Identity", "Constant", kSleepOp};
  return kOps;
}

Result<double> sleepSeconds(const Node& node) {
  auto it = node.attributes.find("seconds");
  if (it == node.attributes.end() || it->second.type != Attribute::Type::kFloat) {
    return Status::InvalidArgument("node '" + node.name + "' (" + node.opType +
                                   ") needs a float attribute 'seconds'");
  }
  const float seconds = it->second.floatValue;
  if (!std::isfinite(seconds) || seconds < 0) {
    return Status::InvalidArgument("node '" + node.name + "' (" + node.opType +
                                   ") has seconds=" + std::to_string(seconds) +
                                   "; it must be a finite number >= 0");
  }
  return static_cast<double>(seconds);
}

Result<Tensor> constantNodeValue(const Node& node) {
  Tensor tensor;
  tensor.name = node.outputs.empty() ? node.name : node.outputs[0];
  if (auto it = node.attributes.find("value"); it != node.attributes.end()) {
    std::string name = tensor.name;
    tensor = it->second.tensor;
    tensor.name = name;
  } else if (auto it = node.attributes.find("value_float"); it != node.attributes.end()) {
    tensor.floats = {it->second.floatValue};
  } else if (auto it = node.attributes.find("value_floats"); it != node.attributes.end()) {
    tensor.floats = it->second.floats;
    tensor.dims = {static_cast<int64_t>(tensor.floats.size())};
  } else if (auto it = node.attributes.find("value_int"); it != node.attributes.end()) {
    tensor.dataType = DataType::kInt64;
    tensor.ints = {it->second.intValue};
  } else if (auto it = node.attributes.find("value_ints"); it != node.attributes.end()) {
    tensor.dataType = DataType::kInt64;
    tensor.ints = it->second.ints;
    tensor.dims = {static_cast<int64_t>(tensor.ints.size())};
  } else {
    return Status::Unsupported("Constant node '" + node.name +
                               "' has no value, value_float(s) or value_int(s) attribute");
  }
  return tensor;
}

const Tensor* Graph::initializer(const std::string& name) const {
  auto it = initializers_.find(name);
  return it == initializers_.end() ? nullptr : &it->second;
}

int Graph::numConsumers(const std::string& value) const {
  int count = 0;
  for (const Node& node : nodes_) {
    count += static_cast<int>(std::count(node.inputs.begin(), node.inputs.end(), value));
  }
  return count;
}

void Graph::renameUses(const std::string& from, const std::string& to) {
  for (Node& node : nodes_) {
    std::replace(node.inputs.begin(), node.inputs.end(), from, to);
  }
  if (outputName_ == from) outputName_ = to;
}

Result<ShapeMap> Graph::inferShapes(int64_t batchSize) const {
  if (batchSize < 1) return Status::InvalidArgument("the batch size must be at least 1");
  return ShapeInference(*this, batchSize).run();
}

Result<Graph> Graph::fromOnnx(OnnxModel model) {
  Graph graph;
  graph.opsetVersion_ = model.opsetVersion;
  for (Tensor& tensor : model.initializers) {
    std::string name = tensor.name;
    graph.initializers_[name] = std::move(tensor);
  }
  std::vector<const ValueInfo*> realInputs;
  for (const ValueInfo& input : model.inputs) {
    if (!graph.initializers_.count(input.name)) realInputs.push_back(&input);
  }
  if (realInputs.size() != 1) {
    return Status::Unsupported("the model has " + std::to_string(realInputs.size()) +
                               " inputs; sluice runs image models with exactly one NCHW input");
  }
  const ValueInfo& input = *realInputs[0];
  if (input.dims.size() != 4 || input.dims[1] <= 0 || input.dims[2] <= 0 || input.dims[3] <= 0) {
    return Status::Unsupported("the model input '" + input.name + "' has shape " +
                               dimsToString(input.dims) +
                               "; sluice needs an NCHW image input with known C, H and W");
  }
  graph.inputName_ = input.name;
  graph.inputShape_ = {input.dims[1], input.dims[2], input.dims[3]};
  if (model.outputs.size() != 1) {
    return Status::Unsupported("the model has " + std::to_string(model.outputs.size()) +
                               " outputs; sluice runs models with exactly one output");
  }
  graph.outputName_ = model.outputs[0].name;

  std::string supportedList;
  for (const std::string& op : supportedOps()) {
    if (!supportedList.empty()) supportedList += ", ";
    supportedList += op;
  }
  std::set<std::string> defined;
  for (const auto& [name, tensor] : graph.initializers_) defined.insert(name);
  defined.insert(graph.inputName_);
  for (size_t i = 0; i < model.nodes.size(); ++i) {
    Node& node = model.nodes[i];
    if (node.name.empty()) node.name = node.opType + "_" + std::to_string(i);
    const auto& ops = supportedOps();
    if (std::find(ops.begin(), ops.end(), node.opType) == ops.end()) {
      return Status::Unsupported("node '" + node.name + "' uses op '" + node.opType +
                                 "', which sluice does not support; supported ops: " +
                                 supportedList);
    }
    for (const std::string& value : node.inputs) {
      if (!value.empty() && !defined.count(value)) {
        return Status::InvalidArgument("node '" + node.name + "' reads '" + value +
                                       "' before any node produces it (the graph must be in "
                                       "topological order)");
      }
    }
    for (const std::string& value : node.outputs) defined.insert(value);
  }
  if (!defined.count(graph.outputName_)) {
    return Status::InvalidArgument("no node produces the model output '" + graph.outputName_ + "'");
  }
  graph.nodes_ = std::move(model.nodes);

  SLUICE_ASSIGN_OR_RETURN(ShapeMap shapes, graph.inferShapes(1));
  const auto& outputShape = shapes.at(graph.outputName_);
  if (outputShape.empty() || outputShape[0] != 1) {
    return Status::Unsupported("the model output '" + graph.outputName_ + "' has shape " +
                               dimsToString(outputShape) +
                               " for one image; sluice needs the batch as its first dimension");
  }
  return graph;
}

}  // namespace sluice::model
