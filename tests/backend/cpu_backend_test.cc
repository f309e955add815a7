// CpuBackend through the same driver the CUDA backend's tests use (tests/backend/cuda), so the
// driver and the comparison are checked where no GPU is: a batch of 1 gives what a batch of 8
// does, and a part-full last batch what the same images give in full batches.

#include "backend/cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include <set>

#include "backend/backend_test_support.h"

namespace sluice::backend {
namespace {

using namespace sluice::backend::testing;

TEST(CpuBackendTest, BatchSizesAndAPartFullLastBatchGiveTheSamePredictions) {
  const auto crops = randomCrops(29);  // 3 full batches of 8 and one of 5
  auto batched = CpuBackend::Make(optionsFor("cpu", 8));
  ASSERT_TRUE(batched.ok()) << batched.status().message();
  auto single = CpuBackend::Make(optionsFor("cpu", 1));
  ASSERT_TRUE(single.ok()) << single.status().message();
  EXPECT_EQ((*batched)->numClasses(), kClasses);
  EXPECT_EQ((*batched)->topk(), 3);
  const Predictions expected = predict(**single, crops, 1);
  expectSamePredictions(expected, predict(**batched, crops, 8), 3);
  // Not vacuous: the images get different classes, and other crops other logits.
  std::set<int32_t> top1;
  for (size_t image = 0; image < 29; ++image) top1.insert(expected.labels[image * 3]);
  EXPECT_GE(top1.size(), 3u);
  const Predictions other = predict(**single, randomCrops(29, 6), 1);
  float largestChange = 0;
  for (size_t i = 0; i < other.logits.size(); ++i) {
    largestChange = std::max(largestChange, std::abs(other.logits[i] - expected.logits[i]));
  }
  EXPECT_GT(largestChange, 0.1f);
}

}  // namespace
}  // namespace sluice::backend
