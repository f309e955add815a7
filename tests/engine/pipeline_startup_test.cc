// The pipeline's start-up: when every backend's memory is known before it is made, the CPU workers
// preprocess while the backends start; otherwise the backends start first. A fake backend that
// takes a second to start stands in for a GPU choosing its algorithms.

#include "engine/pipeline.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/writer.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::engine {
namespace {

constexpr int kSide = 8;  // 8x8x3 images, cropped to 8x8: the whole image
constexpr int kPixels = kSide * kSide * 3;
constexpr int kClasses = 4;
constexpr int kRowsPerGroup = 4;
constexpr int kRows = 3 * kRowsPerGroup;

/// Predicts class (first pixel value % kClasses) with probability 1.
class FirstPixelBackend : public backend::InferenceBackend {
 public:
  explicit FirstPixelBackend(int64_t batchSize)
      : crops_(batchSize * kPixels), labels_(batchSize), scores_(batchSize, 1.0f) {}
  int slots() const override { return 1; }
  uint8_t* inputSlot(int) override { return crops_.data(); }
  Status launch(int, int64_t count) override {
    for (int64_t i = 0; i < count; ++i) labels_[i] = crops_[i * kPixels] % kClasses;
    return Status::OK();
  }
  Result<backend::BatchOutputs> wait(int) override {
    return backend::BatchOutputs{.topkLabels = labels_.data(), .topkScores = scores_.data()};
  }
  int64_t numClasses() const override { return kClasses; }
  int topk() const override { return 1; }
  int64_t memoryBytes() const override { return static_cast<int64_t>(crops_.size()); }
  std::string deviceName() const override { return "first pixel"; }

 private:
  std::vector<uint8_t> crops_;
  std::vector<int32_t> labels_;
  std::vector<float> scores_;
};

/// Makes a FirstPixelBackend a second after it is asked, or fails then with `failure` when set.
BackendFactory slowFactory(Status failure = Status::OK()) {
  return [failure](const backend::BackendOptions& options) -> Result<std::unique_ptr<backend::InferenceBackend>> {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (!failure.ok()) return failure;
    return std::unique_ptr<backend::InferenceBackend>(new FirstPixelBackend(options.batchSize));
  };
}

std::optional<int64_t> knownBound(const backend::BackendOptions& options) { return options.batchSize * kPixels; }
std::optional<int64_t> unknownBound(const backend::BackendOptions&) { return std::nullopt; }

class PipelineStartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice_pipeline_startup_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "in");
    writeImages(dir_ / "in" / "images.parquet");
    options_.input = (dir_ / "in").string();
    options_.output = (dir_ / "out").string();
    options_.modelPath = "first-pixel.onnx";  // the factories above never open it
    options_.imageShape = {kSide, kSide, 3};
    options_.imageShapeGiven = true;
    options_.cropSize = kSide;
    options_.topk = 1;
    options_.cpuWorkers = 1;
    options_.batchSize = 3;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  /// Row r: every pixel value is r, in row groups of kRowsPerGroup.
  static void writeImages(const std::filesystem::path& path) {
    arrow::ListBuilder images(arrow::default_memory_pool(), std::make_shared<arrow::UInt8Builder>());
    auto& values = static_cast<arrow::UInt8Builder&>(*images.value_builder());
    for (int row = 0; row < kRows; ++row) {
      ASSERT_TRUE(images.Append().ok());
      for (int i = 0; i < kPixels; ++i) ASSERT_TRUE(values.Append(static_cast<uint8_t>(row)).ok());
    }
    std::shared_ptr<arrow::Array> array;
    ASSERT_TRUE(images.Finish(&array).ok());
    auto table = arrow::Table::Make(arrow::schema({arrow::field("image", array->type())}), {array});
    auto sink = arrow::io::FileOutputStream::Open(path.string());
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE(parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *sink, kRowsPerGroup).ok());
    ASSERT_TRUE((*sink)->Close().ok());
  }

  /// The output file's labels, in row order.
  std::vector<int32_t> labels() const {
    auto file = arrow::io::ReadableFile::Open((dir_ / "out" / "images.parquet").string());
    EXPECT_TRUE(file.ok());
    if (!file.ok()) return {};
    auto reader = parquet::arrow::OpenFile(*file, arrow::default_memory_pool());
    EXPECT_TRUE(reader.ok());
    auto table = (*reader)->ReadTable();
    EXPECT_TRUE(table.ok());
    if (!table.ok()) return {};
    auto column = (*table)->GetColumnByName("label");
    std::vector<int32_t> result;
    for (const auto& chunk : column->chunks()) {
      const auto& values = static_cast<const arrow::Int32Array&>(*chunk);
      for (int64_t i = 0; i < values.length(); ++i) result.push_back(values.Value(i));
    }
    return result;
  }

  static std::vector<int32_t> expectedLabels() {
    std::vector<int32_t> expected;
    for (int row = 0; row < kRows; ++row) expected.push_back(row % kClasses);
    return expected;
  }

  std::filesystem::path dir_;
  JobOptions options_;
};

TEST_F(PipelineStartupTest, PreprocessingRunsWhileTheBackendStartsWhenItsMemoryIsKnown) {
  JobResult result = runJob(options_, slowFactory(), {}, knownBound);
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  // Three units of four rows take milliseconds; the backend takes a second.
  EXPECT_GT(result.report.startupPreprocessedImages, 0);
  EXPECT_EQ(result.report.toJson()["startup_preprocessed_images"], result.report.startupPreprocessedImages);
  EXPECT_GE(result.report.startupSeconds, 1.0);
  EXPECT_EQ(result.report.images, kRows);
  EXPECT_EQ(labels(), expectedLabels());
}

TEST_F(PipelineStartupTest, TheBackendStartsFirstWhenItsMemoryIsUnknown) {
  JobResult result = runJob(options_, slowFactory(), {}, unknownBound);
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_EQ(result.report.startupPreprocessedImages, 0);
  EXPECT_EQ(labels(), expectedLabels());
}

TEST_F(PipelineStartupTest, TheBackendStartsFirstWhenTheBoundLeavesTheQueuesNoRoom) {
  // 300 MiB: the fixed reserve (256 MiB) and the stages fit, the bound's 1 GiB does not; the
  // backend's real memory (a few bytes) does, so the job runs, serially.
  options_.memoryBudgetBytes = 300LL << 20;
  JobResult result = runJob(options_, slowFactory(), {}, [](const backend::BackendOptions&) {
    return std::optional<int64_t>(1LL << 30);
  });
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_EQ(result.report.startupPreprocessedImages, 0);
  EXPECT_EQ(labels(), expectedLabels());
}

TEST_F(PipelineStartupTest, ABackendThatFailsToStartStopsThePreprocessingAndWritesNothing) {
  JobResult result = runJob(options_, slowFactory(Status::InvalidArgument("no such model")), {}, knownBound);
  EXPECT_EQ(result.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status.message(), "no such model");
  EXPECT_EQ(result.report.failure, "no such model");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "images.parquet"));
  if (std::filesystem::exists(dir_ / "out")) {
    EXPECT_TRUE(std::filesystem::is_empty(dir_ / "out")) << "a temporary file was left behind";
  }
}

TEST_F(PipelineStartupTest, AStopDuringStartUpEndsTheJobOnceTheBackendIsMade) {
  std::atomic<bool> stop{false};
  options_.stopRequested = &stop;
  BackendFactory slow = slowFactory();
  JobResult result = runJob(options_, [&](const backend::BackendOptions& options) {
    stop = true;  // Ctrl-C while the model starts
    return slow(options);
  }, {}, knownBound);
  EXPECT_EQ(result.status.code(), StatusCode::kCancelled) << result.status.message();
  EXPECT_EQ(result.status.message(), "the job was interrupted while it started; no output was written");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "images.parquet"));
}

// A bound that leaves the preprocessed queue room for two units while the backend starts, so the
// worker waits in push for the rest of the start-up (three units, the next-in-sequence rule
// admits the first). The budget's free part comes from a first run's final queue size;
// a unit is 4 rows of an 8x8x3 crop plus 64 bytes of bookkeeping each.
class PipelineStartupBlockedTest : public PipelineStartupTest {
 protected:
  void SetUp() override {
    PipelineStartupTest::SetUp();
    options_.memoryBudgetBytes = 300LL << 20;
    JobResult calibration = runJob(options_, slowFactory(), {}, knownBound);
    ASSERT_TRUE(calibration.status.ok()) << calibration.status.message();
    finalQueueBytes_ = calibration.report.queues.at(0).stats.capacityBytes;
    std::filesystem::remove_all(dir_ / "out");
    // The queues' whole budget (the preprocessed queue has three quarters of it) before the
    // backend's memory, which is options_.batchSize crops.
    const int64_t free = finalQueueBytes_ * 4 / 3 + options_.batchSize * kPixels;
    const int64_t unitBytes = kRowsPerGroup * (kPixels + 64);
    const int64_t bound = free - (2 * unitBytes * 4 + 2) / 3;
    bound_ = [bound](const backend::BackendOptions&) { return std::optional<int64_t>(bound); };
  }

  int64_t finalQueueBytes_ = 0;
  StartupMemoryBound bound_;
};

TEST_F(PipelineStartupBlockedTest, TheQueuesGrowOnceTheBackendIsMade) {
  JobResult result = runJob(options_, slowFactory(), {}, bound_);
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_EQ(result.report.startupPreprocessedImages, 2 * kRowsPerGroup) << "two units fit while it starts";
  EXPECT_EQ(result.report.queues.at(0).stats.capacityBytes, finalQueueBytes_);
  EXPECT_EQ(labels(), expectedLabels());
}

TEST_F(PipelineStartupBlockedTest, AFailedStartWakesAWorkerWaitingForRoom) {
  JobResult result = runJob(options_, slowFactory(Status::InvalidArgument("no such model")), {}, bound_);
  EXPECT_EQ(result.status.message(), "no such model");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "images.parquet"));
}

TEST_F(PipelineStartupBlockedTest, AStopWakesAWorkerWaitingForRoom) {
  std::atomic<bool> stop{false};
  options_.stopRequested = &stop;
  BackendFactory slow = slowFactory();
  JobResult result = runJob(options_, [&](const backend::BackendOptions& options) {
    stop = true;
    return slow(options);
  }, {}, bound_);
  EXPECT_EQ(result.status.code(), StatusCode::kCancelled) << result.status.message();
  EXPECT_EQ(result.status.message(), "the job was interrupted while it started; no output was written");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "images.parquet"));
}

TEST_F(PipelineStartupTest, TheStartUpsOwnErrorWinsOverOneThePreprocessingHitMeanwhile) {
  // The input's pages are overwritten, its footer kept: planning reads it, then the early worker
  // fails on its first row group (a bad file, exit 1) while the backend is still starting, which
  // then fails too (a bad model, exit 2).
  {
    std::fstream file(dir_ / "in" / "images.parquet", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4);
    file << std::string(64, '\xff');
  }
  JobResult result = runJob(options_, slowFactory(Status::InvalidArgument("no such model")), {}, knownBound);
  EXPECT_EQ(result.status.code(), StatusCode::kInvalidArgument) << result.status.message();
}

}  // namespace
}  // namespace sluice::engine
