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

/// ResNet50's structure (torchvision's, BatchNorm already folded away, so convolutions without
/// bias): the 7x7/2 stem, 3x3/2 max pool, 16 bottleneck blocks with 1x1/2 downsamples, global
/// average pool, Flatten, Gemm to 1,000 classes, for 3 x 224 x 224 images. Random weights.
inline model::Graph resNet50(std::mt19937& random) {
  std::vector<Node> nodes;
  std::vector<Tensor> weights;
  int counter = 0;
  auto conv = [&](const std::string& input, int64_t inChannels, int64_t outChannels, int64_t kernel, int64_t stride) {
    const std::string name = "conv" + std::to_string(counter++);
    Node node = makeNode("Conv", {input, name + "_w"}, name);
    node.attributes["strides"] = ints({stride, stride});
    const int64_t pad = kernel / 2;
    node.attributes["pads"] = ints({pad, pad, pad, pad});
    weights.push_back(tensor(name + "_w", {outChannels, inChannels, kernel, kernel}, random));
    nodes.push_back(node);
    return name;
  };
  auto relu = [&](const std::string& input) {
    nodes.push_back(makeNode("Relu", {input}, input + "_relu"));
    return input + "_relu";
  };
  Node pool = makeNode("MaxPool", {relu(conv("x", 3, 64, 7, 2))}, "pool");
  pool.attributes["kernel_shape"] = ints({3, 3});
  pool.attributes["strides"] = ints({2, 2});
  pool.attributes["pads"] = ints({1, 1, 1, 1});
  nodes.push_back(pool);
  std::string current = "pool";
  int64_t channels = 64;
  const int64_t blocks[4] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t width = int64_t{64} << stage;
    for (int64_t block = 0; block < blocks[stage]; ++block) {
      const int64_t stride = stage > 0 && block == 0 ? 2 : 1;
      std::string body = relu(conv(current, channels, width, 1, 1));
      body = relu(conv(body, width, width, 3, stride));
      body = conv(body, width, width * 4, 1, 1);
      const std::string shortcut = block == 0 ? conv(current, channels, width * 4, 1, stride) : current;
      nodes.push_back(makeNode("Add", {body, shortcut}, body + "_sum"));
      current = relu(body + "_sum");
      channels = width * 4;
    }
  }
  nodes.push_back(makeNode("GlobalAveragePool", {current}, "gap"));
  nodes.push_back(makeNode("Flatten", {"gap"}, "flat"));
  Node gemm = makeNode("Gemm", {"flat", "fc_w", "fc_b"}, "y");
  gemm.attributes["transB"] = integer(1);
  nodes.push_back(gemm);
  weights.push_back(tensor("fc_w", {1000, 2048}, random));
  weights.push_back(tensor("fc_b", {1000}, random));
  return buildGraph(std::move(nodes), std::move(weights), {-1, 3, 224, 224});
}

}  // namespace sluice::backend::testing
