#include "model/graph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <optional>

#include "model/graph_builders.h"

namespace sluice::model {
namespace {

using testing::floatScalar;
using testing::ints;
using testing::makeNode;

Tensor floatTensor(const std::string& name, std::vector<int64_t> dims, float value = 0.1f) {
  Tensor tensor;
  tensor.name = name;
  tensor.dims = std::move(dims);
  tensor.floats.assign(tensor.numElements(), value);
  return tensor;
}

OnnxModel imageModel(std::vector<Node> nodes, std::vector<Tensor> initializers) {
  OnnxModel model;
  model.opsetVersion = 17;
  model.nodes = std::move(nodes);
  model.initializers = std::move(initializers);
  model.inputs = {{"x", {-1, 3, 17, 17}}};
  model.outputs = {{"y", {-1, -1, -1, -1}}};
  return model;
}

TEST(GraphTest, UnsupportedOpMessageNamesTheNodeTheOpAndTheSupportedOps) {
  auto graph = Graph::fromOnnx(imageModel({makeNode("LayerNormalization", "Foo_12", {"x"}, "y")}, {}));
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(graph.status().message().find(
                "node 'Foo_12' uses op 'LayerNormalization', which sluice does not support; "
                "supported ops: Conv, BatchNormalization"),
            std::string::npos);
}

TEST(GraphTest, RejectsModelsWithTwoInputs) {
  OnnxModel model = imageModel({makeNode("Add", "add", {"x", "z"}, "y")}, {});
  model.inputs.push_back({"z", {-1, 3, 17, 17}});
  auto graph = Graph::fromOnnx(model);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("2 inputs"), std::string::npos);
}

TEST(GraphTest, RejectsNonImageInput) {
  OnnxModel model = imageModel({makeNode("Relu", "relu", {"x"}, "y")}, {});
  model.inputs = {{"x", {-1, 10}}};
  EXPECT_FALSE(Graph::fromOnnx(model).ok());
}

TEST(GraphTest, InfersConvAndCeilModePoolShapesForAnyBatchSize) {
  Node conv = makeNode("Conv", "conv", {"x", "w"}, "c");
  conv.attributes["strides"] = ints({2, 2});
  conv.attributes["pads"] = ints({1, 1, 1, 1});
  Node pool = makeNode("MaxPool", "pool", {"c"}, "y");
  pool.attributes["kernel_shape"] = ints({3, 3});
  pool.attributes["strides"] = ints({2, 2});
  Attribute ceil;
  ceil.intValue = 1;
  pool.attributes["ceil_mode"] = ceil;
  auto graph = Graph::fromOnnx(imageModel({conv, pool}, {floatTensor("w", {8, 3, 3, 3})}));
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto shapes = graph->inferShapes(5);
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ(shapes->at("c"), (std::vector<int64_t>{5, 8, 9, 9}));
  EXPECT_EQ(shapes->at("y"), (std::vector<int64_t>{5, 8, 4, 4}));  // ceil((9-3)/2)+1 = 4
}

TEST(GraphTest, ReshapeResolvesZeroAndMinusOne) {
  Tensor shape;
  shape.name = "shape";
  shape.dataType = DataType::kInt64;
  shape.dims = {3};
  shape.ints = {0, 17, -1};
  auto graph = Graph::fromOnnx(imageModel({makeNode("Reshape", "reshape", {"x", "shape"}, "y")},
                                          {shape}));
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto shapes = graph->inferShapes(2);
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ(shapes->at("y"), (std::vector<int64_t>{2, 17, 51}));
}

TEST(GraphTest, ConvWithMismatchedGroupsIsInvalidArgumentNamingTheNode) {
  Node conv = makeNode("Conv", "bad_conv", {"x", "w"}, "y");
  Attribute group;
  group.intValue = 2;
  conv.attributes["group"] = group;
  auto graph = Graph::fromOnnx(imageModel({conv}, {floatTensor("w", {8, 3, 3, 3})}));
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(graph.status().message().find("bad_conv"), std::string::npos);
}

TEST(GraphTest, SleepKeepsItsInputShape) {
  Node sleep = makeNode(kSleepOp, "sleep", {"x"}, "y");
  sleep.attributes["seconds"] = floatScalar(0.5f);
  auto graph = Graph::fromOnnx(imageModel({sleep}, {}));
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  auto shapes = graph->inferShapes(5);
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ(shapes->at("y"), (std::vector<int64_t>{5, 3, 17, 17}));
  EXPECT_EQ(sleepSeconds(graph->nodes()[0]).value(), 0.5);
}

TEST(GraphTest, SleepWithoutNonNegativeFloatSecondsIsInvalidArgumentNamingTheNode) {
  Attribute integerSeconds;
  integerSeconds.type = Attribute::Type::kInt;
  integerSeconds.intValue = 1;
  const std::vector<std::optional<Attribute>> badSeconds = {
      std::nullopt, floatScalar(-1.f), floatScalar(INFINITY), floatScalar(NAN),
      integerSeconds};
  for (const auto& seconds : badSeconds) {
    Node sleep = makeNode(kSleepOp, "slow_node", {"x"}, "y");
    if (seconds) sleep.attributes["seconds"] = *seconds;
    auto graph = Graph::fromOnnx(imageModel({sleep}, {}));
    ASSERT_FALSE(graph.ok());
    EXPECT_EQ(graph.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(graph.status().message().find("slow_node"), std::string::npos)
        << graph.status().message();
    EXPECT_NE(graph.status().message().find("seconds"), std::string::npos)
        << graph.status().message();
  }
}

}  // namespace
}  // namespace sluice::model
