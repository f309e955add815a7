#include "engine/backend_factory.h"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

backend::BackendOptions base() { return {.modelPath = "model.onnx", .batchSize = 8, .topk = 5}; }

DeviceRequest request(std::string device, std::string precision = "auto", int workers = 0, std::vector<int> devices = {}) {
  DeviceRequest result;
  result.device = std::move(device);
  result.precision = std::move(precision);
  result.workers = workers;
  result.devices = std::move(devices);
  return result;
}

TEST(BackendFactoryTest, CpuRunsFp32WithOneWorkerByDefault) {
  auto plans = planBackends(request("cpu"), base());
  ASSERT_TRUE(plans.ok()) << plans.status().message();
  ASSERT_EQ(plans->size(), 1u);
  EXPECT_EQ(plans->front().device, "cpu");
  EXPECT_EQ(plans->front().precision, backend::Precision::kFp32);
  EXPECT_EQ(plans->front().batchSize, 8);
}

TEST(BackendFactoryTest, CpuWorkersShareTheCores) {
  auto plans = planBackends(request("cpu", "auto", 3), base());
  ASSERT_TRUE(plans.ok()) << plans.status().message();
  ASSERT_EQ(plans->size(), 3u);
  for (const auto& plan : *plans) EXPECT_GE(plan.threads, 1);
}

TEST(BackendFactoryTest, HalfPrecisionOnTheCpuIsAUsageError) {
  auto plans = planBackends(request("cpu", "fp16"), base());
  ASSERT_FALSE(plans.ok());
  EXPECT_TRUE(plans.status().isUsageError());
  EXPECT_NE(plans.status().message().find("fp32 only"), std::string::npos) << plans.status().message();
}

TEST(BackendFactoryTest, GpuListWithTheCpuIsAUsageError) {
  auto plans = planBackends(request("cpu", "auto", 0, {0}), base());
  ASSERT_FALSE(plans.ok());
  EXPECT_TRUE(plans.status().isUsageError());
}

TEST(BackendFactoryTest, UnknownDeviceAndPrecisionAreUsageErrors) {
  EXPECT_TRUE(planBackends(request("tpu"), base()).status().isUsageError());
  EXPECT_TRUE(planBackends(request("cpu", "int4"), base()).status().isUsageError());
}

TEST(BackendFactoryTest, AutoIsCudaExactlyWhenAGpuIsVisible) {
  EXPECT_EQ(resolveDevice("auto"), visibleGpus() > 0 ? "cuda" : "cpu");
  EXPECT_EQ(resolveDevice("cuda:1"), "cuda");
  EXPECT_EQ(resolveDevice("cpu"), "cpu");
}

TEST(BackendFactoryTest, CudaWithoutAGpuSaysWhyAndWithGpusDealsThemOut) {
  auto plans = planBackends(request("cuda", "auto", 4), base());
  if (visibleGpus() == 0) {
    ASSERT_FALSE(plans.ok());
    EXPECT_TRUE(plans.status().isUsageError());
    EXPECT_NE(plans.status().message().find("--device cpu"), std::string::npos) << plans.status().message();
    return;
  }
  ASSERT_TRUE(plans.ok()) << plans.status().message();
  ASSERT_EQ(plans->size(), 4u);
  for (size_t i = 0; i < plans->size(); ++i) {
    EXPECT_EQ((*plans)[i].deviceIndex, static_cast<int>(i) % visibleGpus());
    EXPECT_EQ((*plans)[i].precision, backend::Precision::kFp16);
  }
  EXPECT_TRUE(planBackends(request("cuda", "auto", 0, {visibleGpus()}), base()).status().isUsageError());
}

}  // namespace
}  // namespace sluice::engine
