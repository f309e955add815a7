#include "backend/cpu/cpu_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "backend/test_graphs.h"

namespace sluice::backend {
namespace {

using model::Attribute;
using model::Node;
using model::Tensor;
using model::testing::ints;
using testing::buildGraph;
using testing::integer;
using testing::makeNode;
using testing::randomValues;
using testing::smallResidualNetwork;
using testing::tensor;

std::vector<float> run(const model::Graph& graph, const std::vector<float>& input,
                       int64_t batch) {
  auto executor = CpuExecutor::Make(graph, {});
  EXPECT_TRUE(executor.ok()) << executor.status().message();
  std::vector<float> output(batch * (*executor)->outputSize());
  Status status = (*executor)->Run(input.data(), batch, output.data());
  EXPECT_TRUE(status.ok()) << status.message();
  return output;
}

void expectClose(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  float scale = 0;
  for (float value : expected) scale = std::max(scale, std::abs(value));
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_NEAR(actual[i], expected[i], 1e-5f * std::max(1.f, scale)) << "at " << i;
  }
}

// Direct-loop reference: grouped, strided, padded, dilated 2-D convolution (NCHW).
std::vector<float> referenceConv(const std::vector<float>& x, int64_t n, int64_t c, int64_t h,
                                 int64_t w, const Tensor& weight, const std::vector<float>& bias,
                                 int64_t group, int64_t stride, int64_t pad, int64_t dilation,
                                 int64_t& outH, int64_t& outW) {
  const int64_t m = weight.dims[0], cg = weight.dims[1], kh = weight.dims[2], kw = weight.dims[3];
  outH = (h + 2 * pad - ((kh - 1) * dilation + 1)) / stride + 1;
  outW = (w + 2 * pad - ((kw - 1) * dilation + 1)) / stride + 1;
  std::vector<float> y(n * m * outH * outW);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t oy = 0; oy < outH; ++oy)
        for (int64_t ox = 0; ox < outW; ++ox) {
          double sum = bias[o];
          const int64_t g = o / (m / group);
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t iy = oy * stride - pad + ky * dilation, ix = ox * stride - pad + kx * dilation;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                sum += weight.floats[((o * cg + ci) * kh + ky) * kw + kx] *
                       x[((b * c + g * cg + ci) * h + iy) * w + ix];
              }
          y[((b * m + o) * outH + oy) * outW + ox] = static_cast<float>(sum);
        }
  return y;
}

TEST(CpuExecutorTest, GroupedStridedPaddedConvWithReluMatchesDirectLoops) {
  std::mt19937 random(1);
  Tensor weight = tensor("w", {16, 4, 3, 3}, random);
  Tensor bias = tensor("b", {16}, random);
  Node conv = makeNode("Conv", {"x", "w", "b"}, "c");
  conv.attributes["group"] = integer(2);
  conv.attributes["strides"] = ints({2, 2});
  conv.attributes["pads"] = ints({1, 1, 1, 1});
  conv.attributes["dilations"] = ints({2, 2});
  model::Graph graph =
      buildGraph({conv, makeNode("Relu", {"c"}, "y")}, {weight, bias}, {-1, 8, 11, 10});
  const int64_t batch = 3;
  std::vector<float> x = randomValues(batch * 8 * 11 * 10, random);
  int64_t outH, outW;
  std::vector<float> expected =
      referenceConv(x, batch, 8, 11, 10, weight, bias.floats, 2, 2, 1, 2, outH, outW);
  for (float& value : expected) value = std::max(value, 0.f);
  expectClose(run(graph, x, batch), expected);
}

TEST(CpuExecutorTest, ResidualAddAfterConvMatchesDirectLoops) {
  std::mt19937 random(2);
  Tensor w1 = tensor("w1", {16, 16, 1, 1}, random);
  Tensor w2 = tensor("w2", {16, 16, 3, 3}, random);
  Tensor zero;
  zero.name = "zero";
  zero.dims = {16};
  zero.floats.assign(16, 0.f);
  Node conv2 = makeNode("Conv", {"r1", "w2", "zero"}, "c2");
  conv2.attributes["pads"] = ints({1, 1, 1, 1});
  model::Graph graph = buildGraph(
      {makeNode("Conv", {"x", "w1", "zero"}, "c1"), makeNode("Relu", {"c1"}, "r1"), conv2,
       makeNode("Add", {"c2", "r1"}, "a"), makeNode("Relu", {"a"}, "y")},
      {w1, w2, zero}, {-1, 16, 6, 5});
  const int64_t batch = 2;
  std::vector<float> x = randomValues(batch * 16 * 6 * 5, random);
  int64_t h, w;
  std::vector<float> r1 = referenceConv(x, batch, 16, 6, 5, w1, zero.floats, 1, 1, 0, 1, h, w);
  for (float& value : r1) value = std::max(value, 0.f);
  std::vector<float> expected =
      referenceConv(r1, batch, 16, 6, 5, w2, zero.floats, 1, 1, 1, 1, h, w);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = std::max(expected[i] + r1[i], 0.f);
  expectClose(run(graph, x, batch), expected);
}

TEST(CpuExecutorTest, PoolingGemmAndSoftmaxMatchDirectLoops) {
  std::mt19937 random(3);
  Node maxPool = makeNode("MaxPool", {"x"}, "p");
  maxPool.attributes["kernel_shape"] = ints({2, 2});
  maxPool.attributes["strides"] = ints({2, 2});
  Tensor fc = tensor("fc", {7, 3}, random);  // transB: [N, K]
  Tensor fcBias = tensor("fc_b", {7}, random);
  Node gemm = makeNode("Gemm", {"f", "fc", "fc_b"}, "logits");
  gemm.attributes["transB"] = integer(1);
  model::Graph graph = buildGraph(
      {maxPool, makeNode("GlobalAveragePool", {"p"}, "g"), makeNode("Flatten", {"g"}, "f"), gemm,
       makeNode("Softmax", {"logits"}, "y")},
      {fc, fcBias}, {-1, 3, 4, 6});
  const int64_t batch = 2;
  std::vector<float> x = randomValues(batch * 3 * 4 * 6, random);
  std::vector<float> expected;
  for (int64_t b = 0; b < batch; ++b) {
    double features[3];
    for (int64_t c = 0; c < 3; ++c) {
      double sum = 0;
      for (int64_t py = 0; py < 2; ++py)
        for (int64_t px = 0; px < 3; ++px) {
          float best = -INFINITY;
          for (int64_t ky = 0; ky < 2; ++ky)
            for (int64_t kx = 0; kx < 2; ++kx)
              best = std::max(best, x[((b * 3 + c) * 4 + py * 2 + ky) * 6 + px * 2 + kx]);
          sum += best;
        }
      features[c] = sum / 6;
    }
    double logits[7], maxLogit = -INFINITY, total = 0;
    for (int64_t o = 0; o < 7; ++o) {
      logits[o] = fcBias.floats[o];
      for (int64_t k = 0; k < 3; ++k) logits[o] += fc.floats[o * 3 + k] * features[k];
      maxLogit = std::max(maxLogit, logits[o]);
    }
    for (double& logit : logits) total += logit = std::exp(logit - maxLogit);
    for (double logit : logits) expected.push_back(static_cast<float>(logit / total));
  }
  expectClose(run(graph, x, batch), expected);
}

TEST(CpuExecutorTest, BatchSizesOneThreeAndThirtyTwoGiveTheSamePerImageResults) {
  std::mt19937 random(4);
  model::Graph graph = smallResidualNetwork(random);
  auto executor = CpuExecutor::Make(graph, {});
  ASSERT_TRUE(executor.ok()) << executor.status().message();
  const int64_t imageSize = 3 * 32 * 32, outputs = (*executor)->outputSize();
  std::vector<float> input = randomValues(32 * imageSize, random);
  std::vector<float> full(32 * outputs);
  ASSERT_TRUE((*executor)->Run(input.data(), 32, full.data()).ok());
  for (int64_t batch : {1, 3}) {
    std::vector<float> part(batch * outputs);
    for (int64_t start = 0; start + batch <= 32; start += batch) {
      ASSERT_TRUE((*executor)->Run(input.data() + start * imageSize, batch, part.data()).ok());
      for (int64_t i = 0; i < batch * outputs; ++i) {
        ASSERT_NEAR(part[i], full[start * outputs + i], 1e-5f * std::max(1.f, std::abs(part[i])))
            << "batch " << batch << " image " << start + i / outputs;
      }
    }
  }
}

TEST(CpuExecutorTest, WorkspaceIsSmallerThanAllActivationsTogether) {
  std::mt19937 random(5);
  model::Graph graph = smallResidualNetwork(random);
  auto executor = CpuExecutor::Make(graph, {});
  ASSERT_TRUE(executor.ok());
  auto shapes = graph.inferShapes(16);
  ASSERT_TRUE(shapes.ok());
  int64_t allActivations = 0;
  for (const auto& [name, dims] : *shapes) {
    if (graph.initializer(name) || name == graph.inputName()) continue;
    int64_t count = 1;
    for (int64_t dim : dims) count *= dim;
    allActivations += count * 4;
  }
  const int64_t workspace = (*executor)->workspaceBytes(16);
  EXPECT_GT(workspace, 0);
  EXPECT_LT(workspace, allActivations);
}

TEST(CpuExecutorTest, ZeroBatchSizeIsInvalidArgument) {
  std::mt19937 random(6);
  model::Graph graph = smallResidualNetwork(random);
  auto executor = CpuExecutor::Make(graph, {});
  ASSERT_TRUE(executor.ok());
  float dummy = 0;
  EXPECT_EQ((*executor)->Run(&dummy, 0, &dummy).code(), StatusCode::kInvalidArgument);
}

Node sleepNode(std::vector<std::string> inputs, std::string output, float seconds) {
  Node node = makeNode(model::kSleepOp, std::move(inputs), std::move(output));
  node.attributes["seconds"] = model::testing::floatScalar(seconds);
  return node;
}

TEST(CpuExecutorTest, SleepWaitsAtLeastItsSecondsOnEveryRunAndPassesTheInputThrough) {
  std::mt19937 random(7);
  constexpr float kSeconds = 0.15f;
  model::Graph graph = buildGraph({sleepNode({"x"}, "y", kSeconds)}, {}, {-1, 3, 4, 5});
  auto executor = CpuExecutor::Make(graph, {});
  ASSERT_TRUE(executor.ok()) << executor.status().message();
  const int64_t batch = 2;
  std::vector<float> input = randomValues(batch * 3 * 4 * 5, random);
  for (int run = 0; run < 2; ++run) {
    std::vector<float> output(input.size(), 0.f);
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE((*executor)->Run(input.data(), batch, output.data()).ok());
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed.count(), kSeconds) << "run " << run;
    EXPECT_EQ(output, input) << "run " << run;
  }
}

TEST(CpuExecutorTest, SleepBetweenConvAndReluLeavesTheResultUnchanged) {
  std::mt19937 random(8);
  Tensor weight = tensor("w", {16, 8, 3, 3}, random);
  Node conv = makeNode("Conv", {"x", "w"}, "c");
  conv.attributes["pads"] = ints({1, 1, 1, 1});
  // Without the sleep the Relu fuses into the Conv; with it, the Relu reads the Conv's
  // (channel-blocked) output through the sleep's alias of it.
  model::Graph plain = buildGraph({conv, makeNode("Relu", {"c"}, "y")}, {weight}, {-1, 8, 6, 6});
  model::Graph withSleep = buildGraph(
      {conv, sleepNode({"c"}, "s", 0.f), makeNode("Relu", {"s"}, "y")}, {weight}, {-1, 8, 6, 6});
  const int64_t batch = 3;
  std::vector<float> x = randomValues(batch * 8 * 6 * 6, random);
  expectClose(run(withSleep, x, batch), run(plain, x, batch));
}

}  // namespace
}  // namespace sluice::backend
