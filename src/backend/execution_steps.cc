#include "backend/execution_steps.h"

#include <map>

namespace sluice::backend {

std::vector<ExecutionStep> planExecutionSteps(const model::Graph& graph) {
  const auto& nodes = graph.nodes();
  std::map<std::string, int> producer;  // value -> index of the node producing it
  std::map<std::string, int> consumers;
  for (size_t i = 0; i < nodes.size(); ++i) {
    producer[nodes[i].outputs.at(0)] = static_cast<int>(i);
    for (const std::string& input : nodes[i].inputs) ++consumers[input];
  }
  auto onlyFeeds = [&](const std::string& value) {
    return consumers[value] == 1 && value != graph.outputName();
  };

  std::vector<ExecutionStep> steps(nodes.size());
  std::vector<bool> absorbed(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    steps[i].node = &nodes[i];
    steps[i].output = nodes[i].outputs.at(0);
    for (const std::string& input : nodes[i].inputs) {
      if (!input.empty() && !graph.initializer(input)) steps[i].inputs.push_back(input);
    }
  }
  auto producingConv = [&](const std::string& value) -> int {
    auto it = producer.find(value);
    if (it == producer.end() || nodes[it->second].opType != "Conv" || absorbed[it->second] ||
        !onlyFeeds(value) || !steps[it->second].sumInput.empty()) {
      return -1;
    }
    return it->second;
  };

  // Add(conv, other): run the add inside the conv that comes later, so `other` already exists.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const model::Node& add = nodes[i];
    if (add.opType != "Add" || steps[i].inputs.size() != 2) continue;
    const std::string& a = add.inputs[0];
    const std::string& b = add.inputs[1];
    int convA = producingConv(a), convB = producingConv(b);
    int conv = std::max(convA, convB);
    if (conv < 0) continue;
    const std::string& other = conv == convA ? b : a;
    auto otherProducer = producer.find(other);
    if (otherProducer != producer.end() && otherProducer->second >= conv) continue;
    steps[conv].sumInput = other;
    steps[conv].inputs.push_back(other);
    steps[conv].output = add.outputs.at(0);
    producer[steps[conv].output] = conv;
    absorbed[i] = true;
  }
  // Conv [+ Add] followed by its only reader Relu.
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].opType != "Relu" || absorbed[i]) continue;
    auto it = producer.find(nodes[i].inputs.at(0));
    if (it == producer.end() || absorbed[it->second]) continue;
    ExecutionStep& conv = steps[it->second];
    if (conv.node->opType != "Conv" || conv.fuseRelu || !onlyFeeds(conv.output)) continue;
    conv.fuseRelu = true;
    conv.output = nodes[i].outputs.at(0);
    producer[conv.output] = it->second;
    absorbed[i] = true;
  }

  std::vector<ExecutionStep> result;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!absorbed[i]) result.push_back(std::move(steps[i]));
  }
  return result;
}

}  // namespace sluice::backend
