#include "model/passes.h"

#include <cmath>
#include <set>

namespace sluice::model {

Status convertConstantsToInitializers(Graph& graph) {
  auto& nodes = graph.mutableNodes();
  std::vector<Node> kept;
  kept.reserve(nodes.size());
  for (Node& node : nodes) {
    if (node.opType != "Constant") {
      kept.push_back(std::move(node));
      continue;
    }
    SLUICE_ASSIGN_OR_RETURN(Tensor tensor, constantNodeValue(node));
    tensor.name = node.outputs.at(0);
    graph.mutableInitializers()[tensor.name] = std::move(tensor);
  }
  nodes = std::move(kept);
  return Status::OK();
}

Status removeIdentities(Graph& graph) {
  auto& nodes = graph.mutableNodes();
  std::vector<Node> kept;
  kept.reserve(nodes.size());
  std::vector<std::pair<std::string, std::string>> renames;
  for (Node& node : nodes) {
    if (node.opType == "Identity") {
      renames.emplace_back(node.outputs.at(0), node.inputs.at(0));
    } else {
      kept.push_back(std::move(node));
    }
  }
  nodes = std::move(kept);
  for (const auto& [from, to] : renames) graph.renameUses(from, to);
  return Status::OK();
}

Status foldBatchNormIntoConv(Graph& graph) {
  auto& nodes = graph.mutableNodes();
  auto& initializers = graph.mutableInitializers();
  std::vector<bool> removed(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    Node& norm = nodes[i];
    if (norm.opType != "BatchNormalization") continue;
    const std::string& convOutput = norm.inputs.at(0);
    if (convOutput == graph.outputName() || graph.numConsumers(convOutput) != 1) continue;
    size_t convIndex = nodes.size();
    for (size_t j = 0; j < i; ++j) {
      if (!removed[j] && nodes[j].opType == "Conv" && nodes[j].outputs.at(0) == convOutput) {
        convIndex = j;
      }
    }
    if (convIndex == nodes.size()) continue;
    Node& conv = nodes[convIndex];
    const Tensor* weight = graph.initializer(conv.inputs.at(1));
    const Tensor* scale = graph.initializer(norm.inputs.at(1));
    const Tensor* beta = graph.initializer(norm.inputs.at(2));
    const Tensor* mean = graph.initializer(norm.inputs.at(3));
    const Tensor* variance = graph.initializer(norm.inputs.at(4));
    const Tensor* bias = conv.numPresentInputs() > 2 ? graph.initializer(conv.inputs[2]) : nullptr;
    if (!weight || !scale || !beta || !mean || !variance ||
        (conv.numPresentInputs() > 2 && !bias)) {
      continue;  // parameters computed at run time: leave the BatchNormalization to run
    }
    const int64_t channels = weight->dims.at(0);
    if (scale->numElements() != channels || beta->numElements() != channels ||
        mean->numElements() != channels || variance->numElements() != channels) {
      return Status::InvalidArgument("node '" + norm.name + "' has parameters that do not match "
                                     "the " + std::to_string(channels) + " channels of '" +
                                     conv.name + "'");
    }
    const double epsilon = norm.floatAttribute("epsilon", 1e-5f);
    Tensor foldedWeight = *weight;
    foldedWeight.name = conv.name + ".bn_folded_weight";
    Tensor foldedBias;
    foldedBias.name = conv.name + ".bn_folded_bias";
    foldedBias.dims = {channels};
    foldedBias.floats.resize(channels);
    const int64_t perChannel = weight->numElements() / channels;
    for (int64_t c = 0; c < channels; ++c) {
      const double factor = scale->floats[c] / std::sqrt(double(variance->floats[c]) + epsilon);
      for (int64_t k = 0; k < perChannel; ++k) {
        float& w = foldedWeight.floats[c * perChannel + k];
        w = static_cast<float>(w * factor);
      }
      const double b = bias ? bias->floats[c] : 0.0;
      foldedBias.floats[c] = static_cast<float>((b - mean->floats[c]) * factor + beta->floats[c]);
    }
    conv.inputs.resize(3);
    conv.inputs[1] = foldedWeight.name;
    conv.inputs[2] = foldedBias.name;
    initializers[foldedWeight.name] = std::move(foldedWeight);
    initializers[foldedBias.name] = std::move(foldedBias);
    conv.outputs[0] = norm.outputs.at(0);
    removed[i] = true;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!removed[i]) kept.push_back(std::move(nodes[i]));
  }
  nodes = std::move(kept);
  return Status::OK();
}

void removeUnusedInitializers(Graph& graph) {
  std::set<std::string> used;
  for (const Node& node : graph.nodes()) used.insert(node.inputs.begin(), node.inputs.end());
  used.insert(graph.outputName());
  auto& initializers = graph.mutableInitializers();
  for (auto it = initializers.begin(); it != initializers.end();) {
    it = used.count(it->first) ? std::next(it) : initializers.erase(it);
  }
}

Status runStandardPasses(Graph& graph) {
  SLUICE_RETURN_IF_ERROR(convertConstantsToInitializers(graph));
  SLUICE_RETURN_IF_ERROR(removeIdentities(graph));
  SLUICE_RETURN_IF_ERROR(foldBatchNormIntoConv(graph));
  removeUnusedInitializers(graph);
  return Status::OK();
}

}  // namespace sluice::model
