// The CUDA executor against the CPU executor (the reference) on small graphs that exercise every
// fused path: conv + bias + ReLU, conv + residual Add + ReLU, grouped / strided / dilated conv,
// pooling, a Flatten of spatial positions, Gemm and Softmax. Skipped where no GPU is visible.
#include "backend/cuda/cuda_executor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cpu/cpu_executor.h"
#include "backend/cuda/cuda_devices.h"
#include "backend/cuda/device_memory.h"
#include "backend/test_graphs.h"

namespace sluice::backend::cuda {
namespace {

using backend::testing::buildGraph;
using backend::testing::integer;
using backend::testing::makeNode;
using backend::testing::randomValues;
using backend::testing::smallResidualNetwork;
using backend::testing::tensor;
using model::Node;
using model::testing::ints;

std::vector<float> runOnCpu(const model::Graph& graph, const std::vector<float>& input, int64_t batch) {
  auto executor = CpuExecutor::Make(graph, {});
  EXPECT_TRUE(executor.ok()) << executor.status().message();
  std::vector<float> output(batch * (*executor)->outputSize());
  EXPECT_TRUE((*executor)->Run(input.data(), batch, output.data()).ok());
  return output;
}

/// NCHW float input -> the executor's NHWC input (padded channels zero) -> forward -> float outputs;
/// `summary` (may be null) receives the executor's summary(); `cache` (may be null) is its algorithm cache.
std::vector<float> runOnGpu(const model::Graph& graph, const std::vector<float>& input, int64_t batch,
                            Precision precision, bool timeAlgorithms = false, std::string* summary = nullptr,
                            AlgorithmCache* cache = nullptr) {
  auto made = CudaExecutor::Make(graph, {.device = 0,
                                         .precision = precision,
                                         .batchSize = batch,
                                         .timeAlgorithms = timeAlgorithms,
                                         .algorithmCache = cache});
  EXPECT_TRUE(made.ok()) << made.status().message();
  if (!made.ok()) return {};
  CudaExecutor& executor = **made;
  if (summary) *summary = executor.summary();
  const auto shape = executor.inputShape();
  const int64_t channels = executor.inputChannels(), plane = shape[1] * shape[2];
  std::vector<float> nhwc(batch * plane * channels, 0.0f);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < shape[0]; ++c)
      for (int64_t p = 0; p < plane; ++p) nhwc[(n * plane + p) * channels + c] = input[(n * shape[0] + c) * plane + p];
  DeviceBuffer staging;
  EXPECT_TRUE(staging.allocate(nhwc.size() * 4).ok());
  EXPECT_EQ(cudaMemcpy(staging.data(), nhwc.data(), nhwc.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(launchCast(staging.as<float>(), executor.input(), nhwc.size(), executor.storageType(), nullptr),
            cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  Status status = executor.enqueue(nullptr);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const int64_t count = batch * executor.outputSize();
  std::vector<float> output(count);
  if (executor.storageType() == StorageType::kFloat) {
    EXPECT_EQ(cudaMemcpy(output.data(), executor.output(), count * 4, cudaMemcpyDeviceToHost), cudaSuccess);
  } else {
    std::vector<uint16_t> bits(count);
    EXPECT_EQ(cudaMemcpy(bits.data(), executor.output(), count * 2, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int64_t i = 0; i < count; ++i) {
      if (executor.storageType() == StorageType::kHalf) {
        output[i] = __half2float(*reinterpret_cast<const __half*>(&bits[i]));
      } else {
        output[i] = __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(&bits[i]));
      }
    }
  }
  return output;
}

void expectWithin(const std::vector<float>& actual, const std::vector<float>& expected, float relative) {
  ASSERT_EQ(actual.size(), expected.size());
  float scale = 0;
  for (float value : expected) scale = std::max(scale, std::abs(value));
  for (size_t i = 0; i < actual.size(); ++i) ASSERT_NEAR(actual[i], expected[i], relative * scale) << "at " << i;
}

// Runs everywhere: the size check comes before the GPU is touched.
TEST(CudaExecutorWithoutGpuTest, ABatchTooLargeForCudnnIsAUsageErrorNamingABatchThatFits) {
  std::mt19937 random(4);
  model::Graph graph = smallResidualNetwork(random);
  auto made = CudaExecutor::Make(graph, {.device = 0, .precision = Precision::kFp16, .batchSize = 1'000'000});
  ASSERT_FALSE(made.ok());
  EXPECT_TRUE(made.status().isUsageError()) << made.status().message();
  EXPECT_NE(made.status().message().find("too large for cuDNN"), std::string::npos) << made.status().message();
  EXPECT_NE(made.status().message().find("use --batch-size"), std::string::npos) << made.status().message();
}

// Runs everywhere: the lowering Make does before touching the GPU. A check like this would have
// caught convolutions refused for padding cuDNN handles (every strided one in ResNet50).
TEST(CudaExecutorWithoutGpuTest, ResNetsLowerOnTheHostAtEveryPrecisionAndBatchSize) {
  std::mt19937 random(12);
  const model::Graph resnet50 = backend::testing::resNet50(random);
  const model::Graph small = smallResidualNetwork(random);
  for (const model::Graph* graph : {&resnet50, &small}) {
    for (Precision precision : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
      for (int64_t batch : {1, 7, 256}) {
        Status checked = CudaExecutor::CheckModel(*graph, {.precision = precision, .batchSize = batch});
        EXPECT_TRUE(checked.ok()) << precisionName(precision) << ", batch " << batch << ": " << checked.message();
      }
    }
  }
}

TEST(CudaExecutorWithoutGpuTest, HostCheckRefusesWhatMakeRefuses) {
  std::mt19937 random(13);
  Node conv = makeNode("Conv", {"x", "w"}, "y");
  conv.attributes["pads"] = ints({0, 0, 2, 2});  // padding only at the end
  const model::Graph graph = buildGraph({conv}, {tensor("w", {4, 3, 3, 3}, random)}, {-1, 3, 8, 8});
  Status checked = CudaExecutor::CheckModel(graph, {.precision = Precision::kFp16, .batchSize = 2});
  EXPECT_EQ(checked.code(), StatusCode::kUnsupported) << checked.message();
  EXPECT_NE(checked.message().find("padding"), std::string::npos) << checked.message();
}

// Runs everywhere. torchvision's published cost of ResNet50 is 4.09 GMACs per 224x224 image
// (4,089,184,256 multiply-adds, the fully connected layer's 2,048,000 included): the profile's FLOPs
// must count exactly twice that, over the model's 3 input channels, not the 8 the executor pads to.
TEST(CudaExecutorWithoutGpuTest, DescribesResNet50AtItsPublishedCost) {
  std::mt19937 random(14);
  const int64_t batch = 2;
  auto rows = CudaExecutor::DescribeOps(backend::testing::resNet50(random),
                                        {.precision = Precision::kFp16, .batchSize = batch});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  double flops = 0;
  std::map<std::string, int> kinds;
  for (const OpTiming& row : *rows) {
    flops += row.flops;
    ++kinds[row.kind];
    EXPECT_EQ(row.milliseconds, 0.0) << row.node;
    EXPECT_GT(row.bytes, 0.0) << row.node;
  }
  EXPECT_DOUBLE_EQ(flops, 2.0 * batch * 4'089'184'256.0);
  // 53 convolutions (every one fused on the host's assumption: no epilogue rows), the Gemm, two pools.
  EXPECT_EQ(rows->size(), 56u);
  EXPECT_EQ(kinds["Conv 7x7"], 1);
  EXPECT_EQ(kinds["Conv 3x3"], 16);
  EXPECT_EQ(kinds["Conv 1x1"], 36);
  EXPECT_EQ(kinds["Gemm"], 1);
  EXPECT_EQ(kinds["MaxPool"], 1);
  EXPECT_EQ(kinds["GlobalAveragePool"], 1);
  // The first convolution reads the padded fp16 input (8 channels) and writes 64 x 112 x 112.
  const OpTiming& first = rows->front();
  EXPECT_EQ(first.shape, "2x8x224x224 -> 2x64x112x112");
  EXPECT_DOUBLE_EQ(first.bytes, 2.0 * (2 * 8 * 224 * 224 + 2 * 64 * 112 * 112 + 64 * 7 * 7 * 8 + 64));
  EXPECT_NE(first.detail.find("stride 2, fused bias/ReLU"), std::string::npos) << first.detail;
  // A block's last convolution carries the residual: it reads both, and fuses the add.
  auto residual = std::find_if(rows->begin(), rows->end(),
                               [](const OpTiming& row) { return row.shape.find(" + ") != std::string::npos; });
  ASSERT_NE(residual, rows->end());
  EXPECT_NE(residual->detail.find("fused bias/add/ReLU"), std::string::npos) << residual->detail;
}

class CudaExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (probeCuda().gpus.empty()) GTEST_SKIP() << "no GPU: " << probeCuda().problem;
  }
};

TEST_F(CudaExecutorTest, Fp32ResidualNetworkMatchesTheCpuExecutor) {
  std::mt19937 random(4);
  model::Graph graph = smallResidualNetwork(random);
  const int64_t batch = 5;
  auto input = randomValues(batch * 3 * 32 * 32, random);
  expectWithin(runOnGpu(graph, input, batch, Precision::kFp32), runOnCpu(graph, input, batch), 1e-4f);
}

TEST_F(CudaExecutorTest, TimedAlgorithmsGiveTheSameResults) {
  std::mt19937 random(6);
  model::Graph graph = smallResidualNetwork(random);
  const int64_t batch = 3;
  auto input = randomValues(batch * 3 * 32 * 32, random);
  auto expected = runOnCpu(graph, input, batch);
  expectWithin(runOnGpu(graph, input, batch, Precision::kFp32, true), expected, 1e-4f);
  expectWithin(runOnGpu(graph, input, batch, Precision::kFp16, true), expected, 2e-2f);
}

TEST_F(CudaExecutorTest, ReducedPrecisionsStayCloseToFp32) {
  std::mt19937 random(5);
  model::Graph graph = smallResidualNetwork(random);
  const int64_t batch = 4;
  auto input = randomValues(batch * 3 * 32 * 32, random);
  auto expected = runOnCpu(graph, input, batch);
  expectWithin(runOnGpu(graph, input, batch, Precision::kTf32), expected, 1e-2f);
  expectWithin(runOnGpu(graph, input, batch, Precision::kFp16), expected, 2e-2f);
  expectWithin(runOnGpu(graph, input, batch, Precision::kBf16), expected, 5e-2f);
}

TEST_F(CudaExecutorTest, GroupedDilatedConvPoolingFlattenGemmSoftmaxMatchTheCpuExecutor) {
  std::mt19937 random(6);
  Node conv = makeNode("Conv", {"x", "w", "b"}, "c");
  conv.attributes["group"] = integer(2);
  conv.attributes["strides"] = ints({2, 2});
  conv.attributes["pads"] = ints({2, 2, 2, 2});
  conv.attributes["dilations"] = ints({2, 2});
  Node pool = makeNode("MaxPool", {"r"}, "p");
  pool.attributes["kernel_shape"] = ints({3, 3});
  pool.attributes["strides"] = ints({2, 2});
  pool.attributes["pads"] = ints({1, 1, 1, 1});
  Node average = makeNode("AveragePool", {"p"}, "a");
  average.attributes["kernel_shape"] = ints({2, 2});
  average.attributes["strides"] = ints({1, 1});
  Node gemm = makeNode("Gemm", {"f", "fc", "fc_b"}, "logits");
  gemm.attributes["transB"] = integer(1);
  // 4 x 20 x 20 -> conv 8 x 10 x 10 -> pool 8 x 5 x 5 -> average 8 x 4 x 4 -> 128 features
  model::Graph graph = buildGraph({conv, makeNode("Relu", {"c"}, "r"), pool, average, makeNode("Flatten", {"a"}, "f"),
                                   gemm, makeNode("Softmax", {"logits"}, "y")},
                                  {tensor("w", {8, 2, 3, 3}, random), tensor("b", {8}, random),
                                   tensor("fc", {6, 128}, random), tensor("fc_b", {6}, random)},
                                  {-1, 4, 20, 20});
  const int64_t batch = 3;
  auto input = randomValues(batch * 4 * 20 * 20, random);
  expectWithin(runOnGpu(graph, input, batch, Precision::kFp32), runOnCpu(graph, input, batch), 1e-4f);
}

TEST_F(CudaExecutorTest, PoolingPaddedOnlyAtTheEndRunsOnSluicesKernelAndMatchesTheCpuExecutor) {
  std::mt19937 random(9);
  Node conv = makeNode("Conv", {"x", "w", "b"}, "c");
  conv.attributes["pads"] = ints({1, 1, 1, 1});
  Node average = makeNode("AveragePool", {"c"}, "a");  // cuDNN pads both ends alike: not this one
  average.attributes["kernel_shape"] = ints({2, 2});
  average.attributes["pads"] = ints({0, 0, 1, 1});
  average.attributes["count_include_pad"] = integer(1);
  Node pool = makeNode("MaxPool", {"a"}, "p");
  pool.attributes["kernel_shape"] = ints({3, 3});
  pool.attributes["strides"] = ints({2, 2});
  pool.attributes["pads"] = ints({0, 0, 1, 1});
  Node gemm = makeNode("Gemm", {"f", "fc", "fc_b"}, "y");
  gemm.attributes["transB"] = integer(1);
  // 3 x 9 x 9 -> conv 8 x 9 x 9 -> average 8 x 9 x 9 -> max 8 x 4 x 4 -> 128 features
  model::Graph graph = buildGraph({conv, average, pool, makeNode("Flatten", {"p"}, "f"), gemm},
                                  {tensor("w", {8, 3, 3, 3}, random), tensor("b", {8}, random),
                                   tensor("fc", {5, 128}, random), tensor("fc_b", {5}, random)},
                                  {-1, 3, 9, 9});
  const int64_t batch = 4;
  auto input = randomValues(batch * 3 * 9 * 9, random);
  expectWithin(runOnGpu(graph, input, batch, Precision::kFp32), runOnCpu(graph, input, batch), 1e-4f);
}

TEST_F(CudaExecutorTest, BatchOfOneAndOfAThousandGiveThePerImageResults) {
  std::mt19937 random(7);
  model::Graph graph = smallResidualNetwork(random);
  auto input = randomValues(1000 * 3 * 32 * 32, random);
  auto thousand = runOnGpu(graph, input, 1000, Precision::kFp32);
  auto one = runOnGpu(graph, std::vector<float>(input.begin(), input.begin() + 3 * 32 * 32), 1, Precision::kFp32);
  ASSERT_EQ(thousand.size(), 10000u);
  // Different batch sizes may get different cuDNN algorithms: equal to fp32 rounding, not bit for bit.
  expectWithin(one, std::vector<float>(thousand.begin(), thousand.begin() + 10), 1e-4f);
}

// ResNet50 runs its 53 convolutions and its Gemm (a 1x1 convolution here) in far fewer signatures
// (shape, window, fusion): start-up asks
// cuDNN once per signature and the convolutions of one share the algorithm chosen for the first,
// which must give them the CPU executor's results all the same.
TEST_F(CudaExecutorTest, ConvolutionsOfOneSignatureShareTheirAlgorithmAndMatchTheCpuExecutor) {
  std::mt19937 random(8);
  model::Graph graph = backend::testing::resNet50(random);
  const int64_t batch = 2;
  auto input = randomValues(batch * 3 * 224 * 224, random);
  const auto expected = runOnCpu(graph, input, batch);
  for (bool timed : {false, true}) {
    std::string summary;
    const auto actual = runOnGpu(graph, input, batch, Precision::kFp32, timed, &summary);
    int fused = 0, convolutions = 0, signatures = 0;
    ASSERT_EQ(std::sscanf(summary.c_str(), "%d of %d convolutions (%d signatures)", &fused, &convolutions,
                          &signatures),
              3)
        << summary;
    EXPECT_EQ(convolutions, 54) << summary;
    EXPECT_LT(signatures, convolutions / 2) << summary;
    expectWithin(actual, expected, 1e-4f);
  }
}

TEST_F(CudaExecutorTest, TimedAlgorithmsComeFromTheCacheTheSecondTimeUnlessCudnnNoLongerOffersThem) {
  std::mt19937 random(16);
  const model::Graph graph = smallResidualNetwork(random);
  const int64_t batch = 3;
  const auto input = randomValues(batch * 3 * 32 * 32, random);
  const auto expected = runOnCpu(graph, input, batch);
  const std::string path =
      ::testing::TempDir() + "sluice_executor_algorithm_cache_" + std::to_string(getpid()) + ".tsv";
  std::remove(path.c_str());
  // Runs the graph with the cache's choices (timing what it lacks), checks its outputs, saves the
  // choices and returns the summary.
  auto runCached = [&] {
    AlgorithmCache cache = AlgorithmCache::Load(path, "test|fp32");
    std::string summary;
    expectWithin(runOnGpu(graph, input, batch, Precision::kFp32, true, &summary, &cache), expected, 1e-4f);
    EXPECT_TRUE(cache.save().ok());
    return summary;
  };
  auto fromCache = [](const std::string& summary) {
    const std::string phrase = "algorithms of ";
    const size_t at = summary.find(phrase);
    return at == std::string::npos ? -1 : std::atoi(summary.c_str() + at + phrase.size());
  };
  auto signatures = [](const std::string& summary) {
    int fused = 0, convolutions = 0, count = 0;
    std::sscanf(summary.c_str(), "%d of %d convolutions (%d signatures)", &fused, &convolutions, &count);
    return count;
  };
  const std::string first = runCached();
  EXPECT_EQ(fromCache(first), 0) << first;
  const std::string second = runCached();
  EXPECT_GT(signatures(second), 0) << second;
  EXPECT_EQ(fromCache(second), signatures(second)) << second;

  // An algorithm cuDNN does not offer for a signature (99) is timed again, not used.
  std::ifstream in(path);
  std::string line, rewritten;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    if (fields.size() == 6) fields[3] = "99";
    for (size_t i = 0; i < fields.size(); ++i) rewritten += (i ? "\t" : "") + fields[i];
    rewritten += "\n";
  }
  in.close();
  std::ofstream(path) << rewritten;
  const std::string third = runCached();
  EXPECT_EQ(fromCache(third), 0) << third;
  std::remove(path.c_str());
}

TEST_F(CudaExecutorTest, ProfileTimesEveryOpAndNamesTheAlgorithmsChosen) {
  std::mt19937 random(15);
  const model::Graph graph = backend::testing::resNet50(random);
  const CudaExecutorOptions options{.device = 0, .precision = Precision::kFp16, .batchSize = 8};
  auto described = CudaExecutor::DescribeOps(graph, options);
  ASSERT_TRUE(described.ok()) << described.status().message();
  auto made = CudaExecutor::Make(graph, options);
  ASSERT_TRUE(made.ok()) << made.status().message();
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  auto rows = (*made)->profile(stream, 3);
  made->reset();  // its cuDNN handle names the stream
  cudaStreamDestroy(stream);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  // Every op described, plus an epilogue row for each convolution cuDNN would not fuse.
  size_t epilogues = 0;
  double flops = 0, describedFlops = 0;
  for (const OpTiming& row : *rows) {
    EXPECT_GT(row.milliseconds, 0.0) << row.node << " " << row.kind;
    epilogues += row.kind == "bias/add/ReLU epilogue";
    flops += row.flops;
    if (row.kind.rfind("Conv", 0) == 0) {
      EXPECT_NE(row.detail.find(", workspace "), std::string::npos) << row.detail;
    }
  }
  for (const OpTiming& row : *described) describedFlops += row.flops;
  EXPECT_EQ(rows->size(), described->size() + epilogues);
  EXPECT_DOUBLE_EQ(flops, describedFlops);
}

}  // namespace
}  // namespace sluice::backend::cuda
