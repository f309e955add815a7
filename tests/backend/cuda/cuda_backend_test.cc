// CudaBackend on its own, against the CPU backend on the same ONNX file: slots rotated with two
// batches in flight, a last part-full batch, batch size 1, logits and top-k coming back.

#include "backend/cuda/cuda_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backend/backend_test_support.h"
#include "backend/cpu/cpu_backend.h"
#include "backend/cuda/gpu_test_support.h"

namespace sluice::backend::cuda {
namespace {

using namespace sluice::backend::testing;

TEST(CudaBackendTest, MatchesTheCpuBackendWithSlotsInFlightAndAPartFullLastBatch) {
  SKIP_WITHOUT_GPU();
  const int64_t batchSize = 8;
  const auto crops = randomCrops(29);  // 3 full batches and one of 5
  auto cpu = CpuBackend::Make(optionsFor("cpu", batchSize));
  ASSERT_TRUE(cpu.ok()) << cpu.status().message();
  auto gpu = CudaBackend::Make(optionsFor("cuda", batchSize));
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  ASSERT_GE((*gpu)->slots(), 2);
  // The batches replay the captured graphs: a backend that fell back to eager launches would pass
  // the comparison without testing them.
  EXPECT_NE((*gpu)->deviceName().find(", CUDA graphs,"), std::string::npos) << (*gpu)->deviceName();
  EXPECT_EQ((*gpu)->numClasses(), kClasses);
  EXPECT_EQ((*gpu)->topk(), 3);
  expectSamePredictions(predict(**cpu, crops, batchSize), predict(**gpu, crops, batchSize), 3);
}

TEST(CudaBackendTest, HostMemoryBoundCoversWhatABackendHolds) {
  SKIP_WITHOUT_GPU();
  for (bool logits : {false, true}) {
    auto options = optionsFor("cuda", 7);
    options.returnLogits = logits;
    auto gpu = CudaBackend::Make(options);
    ASSERT_TRUE(gpu.ok()) << gpu.status().message();
    EXPECT_GE(CudaBackend::hostMemoryBound(options), (*gpu)->memoryBytes());
    EXPECT_GT((*gpu)->memoryBytes(), 0);
  }
}

TEST(CudaBackendTest, SaysWhereItsStartUpWent) {
  SKIP_WITHOUT_GPU();
  auto gpu = CudaBackend::Make(optionsFor("cuda", 4));
  ASSERT_TRUE(gpu.ok()) << gpu.status().message();
  std::vector<std::string> names;
  for (const auto& [name, seconds] : (*gpu)->startupSteps()) {
    names.push_back(name);
    EXPECT_GE(seconds, 0) << name;
  }
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "CUDA context");
  EXPECT_EQ(names.back(), "capture CUDA graphs");
  EXPECT_NE(std::find(names.begin(), names.end(), "cuDNN handle"), names.end());
}

TEST(CudaBackendTest, BatchSizeOneMatchesAFullBatch) {
  SKIP_WITHOUT_GPU();
  const auto crops = randomCrops(6);
  auto single = CudaBackend::Make(optionsFor("cuda", 1));
  ASSERT_TRUE(single.ok()) << single.status().message();
  auto batched = CudaBackend::Make(optionsFor("cuda", 6));
  ASSERT_TRUE(batched.ok()) << batched.status().message();
  expectSamePredictions(predict(**batched, crops, 6), predict(**single, crops, 1), 3);
}

}  // namespace
}  // namespace sluice::backend::cuda
