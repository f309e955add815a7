#include "engine/backend_factory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "engine/job_options.h"

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

/// Sets an environment variable for one scope, then puts back what it was.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnvironment() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(BackendFactoryTest, TimedAlgorithmsAreCachedWhereAskedOrInTheUsersCacheFolder) {
  ScopedEnvironment home("HOME", "/home/someone"), xdg("XDG_CACHE_HOME", nullptr), own("SLUICE_CACHE_DIR", nullptr);
  EXPECT_EQ(cudnnCachePath("/data/cache.tsv"), "/data/cache.tsv");
  EXPECT_EQ(cudnnCachePath("none"), "");
  EXPECT_EQ(cudnnCachePath(""), "/home/someone/.cache/sluice/cudnn-algorithms.tsv");
  {
    ScopedEnvironment relative("XDG_CACHE_HOME", "cache");
    EXPECT_EQ(cudnnCachePath(""), "/home/someone/.cache/sluice/cudnn-algorithms.tsv") << "a relative one is ignored";
  }
  {
    ScopedEnvironment set("XDG_CACHE_HOME", "/var/cache/someone");
    EXPECT_EQ(cudnnCachePath(""), "/var/cache/someone/sluice/cudnn-algorithms.tsv");
    ScopedEnvironment first("SLUICE_CACHE_DIR", "/scratch/sluice");
    EXPECT_EQ(cudnnCachePath(""), "/scratch/sluice/cudnn-algorithms.tsv");
  }
  ScopedEnvironment nowhere("HOME", "");
  EXPECT_EQ(cudnnCachePath(""), "") << "no home, no cache: every timed job times";
  // What a job's options give its backends.
  JobOptions job;
  job.cudnnCachePath = "/data/cache.tsv";
  EXPECT_EQ(backendOptionsFor(job, 8).algorithmCachePath, "/data/cache.tsv");
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

TEST(BackendFactoryTest, StartupMemoryIsBoundedBeforehandOnGpusOnly) {
  const auto model = std::filesystem::temp_directory_path() / ("sluice_bound_" + std::to_string(::getpid()) + ".onnx");
  std::ofstream(model) << std::string(1000, 'x');
  backend::BackendOptions options = base();
  options.modelPath = model.string();
  options.device = "cpu";
  EXPECT_FALSE(startupMemoryBound(options).has_value()) << "the CPU backend's activations depend on the model";
  options.device = "cuda";
  const std::optional<int64_t> bound = startupMemoryBound(options);
#if SLUICE_WITH_CUDA
  // Two pinned slots of 8 crops of 224x224x3, their top-5 labels and scores, and the model file
  // three times over.
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(*bound, 3 * 1000 + 2 * (8 * 224 * 224 * 3 + 2 * 8 * 5 * 4));
  options.returnLogits = true;
  EXPECT_GE(*startupMemoryBound(options), *bound + 2 * 8 * 1000 * 4) << "logits for at least 1,000 classes";
  options.modelPath = (model.parent_path() / "no-such-model.onnx").string();
  EXPECT_FALSE(startupMemoryBound(options).has_value()) << "no file, no bound: the backend will say why";
#else
  EXPECT_FALSE(bound.has_value()) << "this build has no CUDA backend";
#endif
  std::filesystem::remove(model);
}

}  // namespace
}  // namespace sluice::engine
