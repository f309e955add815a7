#pragma once
// Random tensors and small graphs shared by the CPU and CUDA executor tests.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "model/graph.h"
#include "model/graph_builders.h"
#include "model/passes.h"

namespace sluice::backend::testing {

using model::Attribute;
using model::Node;
using model::Tensor;
using model::testing::ints;

inline std::vector<float> randomValues(int64_t count, std::mt19937& random) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> values(count);
  for (float& value : values) value = normal(random);
  return values;
}

inline Tensor tensor(const std::string& name, std::vector<int64_t> dims, std::mt19937& random) {
  Tensor result;
  result.name = name;
  result.dims = std::move(dims);
  result.floats = randomValues(result.numElements(), random);
  return result;
}

inline Node makeNode(const std::string& op, std::vector<std::string> inputs, std::string output) {
  return model::testing::makeNode(op, op + "_" + output, std::move(inputs), output);
}

inline Attribute integer(int64_t value) {
  Attribute attribute;
  attribute.intValue = value;
  return attribute;
}

inline model::Graph buildGraph(std::vector<Node> nodes, std::vector<Tensor> initializers,
                        std::vector<int64_t> inputDims) {
  model::OnnxModel onnx;
  onnx.opsetVersion = 17;
  onnx.nodes = std::move(nodes);
  onnx.initializers = std::move(initializers);
  onnx.inputs = {{"x", inputDims}};
  onnx.outputs = {{"y", {}}};
  auto graph = model::Graph::fromOnnx(std::move(onnx));
  EXPECT_TRUE(graph.ok()) << graph.status().message();
  EXPECT_TRUE(model::runStandardPasses(*graph).ok());
  return std::move(graph).value();
}

/// conv(stride 2) + ReLU -> conv + residual Add + ReLU -> global average pool -> Gemm: 10 outputs
/// for 3 x 32 x 32 images.
inline model::Graph smallResidualNetwork(std::mt19937& random) {
  Node stem = makeNode("Conv", {"x", "w1"}, "c1");
  stem.attributes["strides"] = ints({2, 2});
  stem.attributes["pads"] = ints({1, 1, 1, 1});
  Node body = makeNode("Conv", {"r1", "w2"}, "c2");
  body.attributes["pads"] = ints({1, 1, 1, 1});
  Tensor fc = tensor("fc", {10, 32}, random);
  Node gemm = makeNode("Gemm", {"f", "fc"}, "y");
  gemm.attributes["transB"] = integer(1);
  return buildGraph({stem, makeNode("Relu", {"c1"}, "r1"), body, makeNode("Add", {"c2", "r1"}, "a"),
                     makeNode("Relu", {"a"}, "r2"), makeNode("GlobalAveragePool", {"r2"}, "g"),
                     makeNode("Flatten", {"g"}, "f"), gemm},
                    {tensor("w1", {32, 3, 3, 3}, random), tensor("w2", {32, 32, 3, 3}, random), fc},
                    {-1, 3, 32, 32});
}

}  // namespace sluice::backend::testing
