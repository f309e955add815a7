#pragma once
// A node of the model graph: an op applied to named values, with its ONNX attributes.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/tensor.h"

namespace sluice::model {

struct Attribute {
  enum class Type { kInt, kInts, kFloat, kFloats, kString, kTensor };
  Type type = Type::kInt;
  int64_t intValue = 0;
  float floatValue = 0;
  std::string stringValue;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  Tensor tensor;
};

struct Node {
  std::string name;
  std::string opType;
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;

  bool hasAttribute(const std::string& key) const { return attributes.count(key) != 0; }
  int64_t intAttribute(const std::string& key, int64_t fallback) const;
  float floatAttribute(const std::string& key, float fallback) const;
  std::string stringAttribute(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> intsAttribute(const std::string& key, std::vector<int64_t> fallback) const;
  /// The inputs that are present (ONNX allows "" for an omitted optional input).
  size_t numPresentInputs() const;
};

}  // namespace sluice::model
