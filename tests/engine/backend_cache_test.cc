#include "engine/backend_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <vector>

namespace sluice::engine {
namespace {

/// Counts of what the factory below made and destroyed, shared by every test backend.
struct Census {
  std::atomic<int> made{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> waits{0};
};

/// A two-slot backend that remembers its serial number; launch or wait fail when told to.
class CountedBackend : public backend::InferenceBackend {
 public:
  CountedBackend(Census& census, int serial) : census_(census), serial_(serial) {}
  ~CountedBackend() override { ++census_.destroyed; }
  int slots() const override { return 2; }
  uint8_t* inputSlot(int) override { return input_; }
  Status launch(int, int64_t) override { return failLaunch ? Status::Internal("launch failed") : Status::OK(); }
  Result<backend::BatchOutputs> wait(int) override {
    ++census_.waits;
    if (failWait) return Status::Internal("wait failed");
    return backend::BatchOutputs{};
  }
  int64_t numClasses() const override { return 10; }
  int topk() const override { return 1; }
  int64_t memoryBytes() const override { return 0; }
  std::string deviceName() const override { return "counted #" + std::to_string(serial_); }

  bool failLaunch = false;
  bool failWait = false;

 private:
  Census& census_;
  int serial_;
  uint8_t input_[16] = {};
};

class BackendCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    modelPath_ = std::filesystem::path(::testing::TempDir()) /
                 ("backend_cache_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".onnx");
    writeModel("model");
  }
  void TearDown() override { std::filesystem::remove(modelPath_); }

  void writeModel(const std::string& contents) { std::ofstream(modelPath_, std::ios::trunc) << contents; }

  BackendFactory countingFactory() {
    return [this](const backend::BackendOptions&) -> Result<std::unique_ptr<backend::InferenceBackend>> {
      int serial = ++census_.made;
      return std::unique_ptr<backend::InferenceBackend>(std::make_unique<CountedBackend>(census_, serial));
    };
  }

  backend::BackendOptions options(int deviceIndex = 0) const {
    backend::BackendOptions options;
    options.modelPath = modelPath_.string();
    options.deviceIndex = deviceIndex;
    return options;
  }

  Census census_;
  std::filesystem::path modelPath_;
};

TEST_F(BackendCacheTest, AReleasedBackendIsHandedToTheNextJob) {
  BackendCache cache(countingFactory());
  auto make = cache.factory();
  std::string first;
  {
    auto made = make(options());
    first = (*made)->deviceName();
    EXPECT_TRUE((*made)->startupSteps().empty()) << "a new backend's own steps (the test backend has none)";
  }
  EXPECT_EQ(cache.counts().idle, 1);
  auto second = make(options());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->deviceName(), first);
  EXPECT_EQ((*second)->startupSteps(), (StepSeconds{{"reused from an earlier job", 0.0}}))
      << "this job did not start it";
  EXPECT_EQ(census_.made, 1);
  EXPECT_EQ(cache.counts().reused, 1);
  EXPECT_EQ(cache.counts().idle, 0);
}

TEST_F(BackendCacheTest, BackendsInUseAtOnceAreDistinctAndAllComeBack) {
  BackendCache cache(countingFactory());
  auto make = cache.factory();
  {
    std::vector<std::future<Result<std::unique_ptr<backend::InferenceBackend>>>> made;
    for (int i = 0; i < 3; ++i) made.push_back(std::async(std::launch::async, make, options()));
    std::vector<std::unique_ptr<backend::InferenceBackend>> inUse;
    for (auto& future : made) inUse.push_back(future.get().value());
    EXPECT_EQ(census_.made, 3);
  }
  EXPECT_EQ(cache.counts().idle, 3);
  auto again = make(options());
  EXPECT_EQ(census_.made, 3);
  EXPECT_EQ(census_.destroyed, 0);
}

TEST_F(BackendCacheTest, AnotherConfigurationDropsTheIdleBackends) {
  BackendCache cache(countingFactory());
  auto make = cache.factory();
  { auto gpu0 = make(options(0)); }
  { auto gpu1 = make(options(1)); }
  EXPECT_EQ(census_.made, 2);
  EXPECT_EQ(census_.destroyed, 1) << "the device-0 backend stays idle after device 1 was asked for";
  EXPECT_EQ(cache.counts().idle, 1);
}

TEST_F(BackendCacheTest, AChangedModelFileIsLoadedAgain) {
  BackendCache cache(countingFactory());
  auto make = cache.factory();
  { auto before = make(options()); }
  writeModel("a different, longer model");
  { auto after = make(options()); }
  EXPECT_EQ(census_.made, 2);
  EXPECT_EQ(cache.counts().reused, 0);
}

TEST_F(BackendCacheTest, ABackendWhoseBatchFailedIsDestroyedNotKept) {
  BackendFactory make = [this](const backend::BackendOptions&) -> Result<std::unique_ptr<backend::InferenceBackend>> {
    auto backend = std::make_unique<CountedBackend>(census_, ++census_.made);
    backend->failWait = true;
    return std::unique_ptr<backend::InferenceBackend>(std::move(backend));
  };
  BackendCache failing(make);
  {
    auto leased = failing.factory()(options());
    ASSERT_TRUE((*leased)->launch(0, 1).ok());
    EXPECT_FALSE((*leased)->wait(0).ok());
  }
  EXPECT_EQ(census_.destroyed, 1);
  EXPECT_EQ(failing.counts().idle, 0);
}

TEST_F(BackendCacheTest, BatchesLeftInFlightAreFinishedBeforeTheBackendIsKept) {
  BackendCache cache(countingFactory());
  {
    auto leased = cache.factory()(options());
    ASSERT_TRUE((*leased)->launch(0, 1).ok());
    ASSERT_TRUE((*leased)->launch(1, 1).ok());
    ASSERT_TRUE((*leased)->wait(0).ok());
    EXPECT_EQ(census_.waits, 1);
  }
  EXPECT_EQ(census_.waits, 2) << "slot 1 was waited for on release";
  EXPECT_EQ(cache.counts().idle, 1);
}

TEST_F(BackendCacheTest, ABackendReleasedAfterTheCacheIsGoneIsDestroyed) {
  std::unique_ptr<backend::InferenceBackend> survivor;
  {
    BackendCache cache(countingFactory());
    { auto idle = cache.factory()(options()); }
    survivor = cache.factory()(options(1)).value();
  }
  EXPECT_EQ(census_.destroyed, 1);
  survivor.reset();
  EXPECT_EQ(census_.destroyed, 2);
}

TEST_F(BackendCacheTest, AFactoryErrorIsPassedOn) {
  BackendCache cache([](const backend::BackendOptions&) -> Result<std::unique_ptr<backend::InferenceBackend>> {
    return Status::InvalidArgument("no such model");
  });
  auto made = cache.factory()(options());
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().message(), "no such model");
  EXPECT_EQ(cache.counts().made, 0);
}

}  // namespace
}  // namespace sluice::engine
