#pragma once
// Small builders for graph nodes in tests (model and backend tests share them).

#include <string>
#include <utility>
#include <vector>

#include "model/node.h"

namespace sluice::model::testing {

inline Node makeNode(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                     std::string output) {
  Node node;
  node.opType = op;
  node.name = name;
  node.inputs = std::move(inputs);
  node.outputs = {std::move(output)};
  return node;
}

inline Attribute ints(std::vector<int64_t> values) {
  Attribute attribute;
  attribute.type = Attribute::Type::kInts;
  attribute.ints = std::move(values);
  return attribute;
}

inline Attribute floatScalar(float value) {
  Attribute attribute;
  attribute.type = Attribute::Type::kFloat;
  attribute.floatValue = value;
  return attribute;
}

}  // namespace sluice::model::testing
