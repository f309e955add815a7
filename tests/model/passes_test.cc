#include "model/passes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/graph_builders.h"

namespace sluice::model {
namespace {

using testing::makeNode;

Tensor randomTensor(const std::string& name, std::vector<int64_t> dims, std::mt19937& random,
                    float low = -1.f, float high = 1.f) {
  Tensor tensor;
  tensor.name = name;
  tensor.dims = std::move(dims);
  std::uniform_real_distribution<float> uniform(low, high);
  for (int64_t i = 0; i < tensor.numElements(); ++i) tensor.floats.push_back(uniform(random));
  return tensor;
}

// 1x1 convolution with bias followed by inference batch norm, computed directly (no folding).
std::vector<float> convThenNorm(const Graph& graph, const std::vector<float>& x, int64_t channels,
                                int64_t pixels, bool applyNorm) {
  const Tensor& w = *graph.initializer(applyNorm ? "w" : graph.nodes()[0].inputs[1]);
  const Tensor& b = *graph.initializer(applyNorm ? "b" : graph.nodes()[0].inputs[2]);
  const int64_t outputs = w.dims[0];
  std::vector<float> y(outputs * pixels);
  for (int64_t o = 0; o < outputs; ++o) {
    for (int64_t p = 0; p < pixels; ++p) {
      double sum = b.floats[o];
      for (int64_t c = 0; c < channels; ++c) sum += w.floats[o * channels + c] * x[c * pixels + p];
      if (applyNorm) {
        sum = (sum - graph.initializer("mean")->floats[o]) /
                  std::sqrt(graph.initializer("var")->floats[o] + 1e-3) *
                  graph.initializer("scale")->floats[o] +
              graph.initializer("beta")->floats[o];
      }
      y[o * pixels + p] = static_cast<float>(sum);
    }
  }
  return y;
}

Result<Graph> convNormGraph(std::mt19937& random) {
  OnnxModel model;
  model.opsetVersion = 17;
  model.inputs = {{"x", {-1, 3, 4, 4}}};
  model.outputs = {{"y", {-1, 5, 4, 4}}};
  Node norm = makeNode("BatchNormalization", "bn", {"c", "scale", "beta", "mean", "var"}, "n");
  Attribute epsilon;
  epsilon.type = Attribute::Type::kFloat;
  epsilon.floatValue = 1e-3f;
  norm.attributes["epsilon"] = epsilon;
  model.nodes = {makeNode("Conv", "conv", {"x", "w", "b"}, "c"), norm,
                 makeNode("Identity", "id", {"n"}, "y")};
  model.initializers = {randomTensor("w", {5, 3, 1, 1}, random), randomTensor("b", {5}, random),
                        randomTensor("scale", {5}, random, 0.5f, 2.f),
                        randomTensor("beta", {5}, random),
                        randomTensor("mean", {5}, random),
                        randomTensor("var", {5}, random, 0.2f, 3.f)};
  return Graph::fromOnnx(std::move(model));
}

TEST(PassesTest, FoldingBatchNormIntoConvKeepsTheOutputs) {
  std::mt19937 random(7);
  auto original = convNormGraph(random);
  ASSERT_TRUE(original.ok()) << original.status().message();
  Graph folded = *original;
  ASSERT_TRUE(foldBatchNormIntoConv(folded).ok());
  ASSERT_EQ(folded.nodes().size(), 2u);  // Conv + Identity
  EXPECT_EQ(folded.nodes()[0].opType, "Conv");
  EXPECT_EQ(folded.nodes()[0].outputs[0], "n");

  std::vector<float> x = randomTensor("x", {3, 16}, random).floats;
  std::vector<float> expected = convThenNorm(*original, x, 3, 16, true);
  std::vector<float> actual = convThenNorm(folded, x, 3, 16, false);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5 * std::max(1.f, std::abs(expected[i]))) << i;
  }
}

TEST(PassesTest, BatchNormWhoseConvOutputHasAnotherReaderIsNotFolded) {
  std::mt19937 random(8);
  auto graph = convNormGraph(random);
  ASSERT_TRUE(graph.ok());
  graph->mutableNodes().push_back(makeNode("Relu", "other_reader", {"c"}, "unused"));
  ASSERT_TRUE(foldBatchNormIntoConv(*graph).ok());
  EXPECT_EQ(graph->nodes()[1].opType, "BatchNormalization");
}

TEST(PassesTest, RemovingIdentityRewiresTheGraphOutput) {
  std::mt19937 random(9);
  auto graph = convNormGraph(random);
  ASSERT_TRUE(graph.ok());
  ASSERT_TRUE(removeIdentities(*graph).ok());
  EXPECT_EQ(graph->outputName(), "n");
  for (const Node& node : graph->nodes()) EXPECT_NE(node.opType, "Identity");
}

TEST(PassesTest, ConstantNodeBecomesAnInitializer) {
  OnnxModel model;
  model.opsetVersion = 17;
  model.inputs = {{"x", {-1, 2, 3, 4}}};
  model.outputs = {{"y", {-1, 24}}};
  Node constant = makeNode("Constant", "shape_const", {}, "shape");
  Attribute value;
  value.type = Attribute::Type::kInts;
  value.ints = {0, -1};
  constant.attributes["value_ints"] = value;
  model.nodes = {constant, makeNode("Reshape", "reshape", {"x", "shape"}, "y")};
  auto graph = Graph::fromOnnx(model);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  ASSERT_TRUE(convertConstantsToInitializers(*graph).ok());
  ASSERT_EQ(graph->nodes().size(), 1u);
  ASSERT_NE(graph->initializer("shape"), nullptr);
  EXPECT_EQ(graph->initializer("shape")->ints, (std::vector<int64_t>{0, -1}));
  auto shapes = graph->inferShapes(3);
  ASSERT_TRUE(shapes.ok());
  EXPECT_EQ(shapes->at("y"), (std::vector<int64_t>{3, 24}));
}

}  // namespace
}  // namespace sluice::model
