#include "model/node.h"

namespace sluice::model {

int64_t Node::intAttribute(const std::string& key, int64_t fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.intValue;
}

float Node::floatAttribute(const std::string& key, float fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.floatValue;
}

std::string Node::stringAttribute(const std::string& key, const std::string& fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.stringValue;
}

std::vector<int64_t> Node::intsAttribute(const std::string& key,
                                         std::vector<int64_t> fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.ints;
}

size_t Node::numPresentInputs() const {
  size_t count = 0;
  for (const auto& input : inputs) count += input.empty() ? 0 : 1;
  return count;
}

}  // namespace sluice::model
