#include "engine/batch_runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace sluice::engine {
namespace {

/// A backend with `slots` slots whose "model" answers label = first byte of the crop and
/// score = batch position; it fails the test if a slot is launched while still in flight.
class FakeBackend : public backend::InferenceBackend {
 public:
  FakeBackend(int slots, int64_t batchSize, int64_t cropBytes)
      : batchSize_(batchSize), cropBytes_(cropBytes), inputs_(slots), labels_(slots), scores_(slots),
        inFlight_(slots, false) {
    for (auto& input : inputs_) input.resize(batchSize * cropBytes);
  }
  int slots() const override { return static_cast<int>(inputs_.size()); }
  uint8_t* inputSlot(int slot) override {
    EXPECT_FALSE(inFlight_[slot]) << "slot " << slot << " written while in flight";
    return inputs_[slot].data();
  }
  Status launch(int slot, int64_t count) override {
    EXPECT_FALSE(inFlight_[slot]);
    EXPECT_GE(count, 1);
    EXPECT_LE(count, batchSize_);
    inFlight_[slot] = true;
    launchedCounts.push_back(count);
    labels_[slot].assign(count, 0);
    scores_[slot].assign(count, 0);
    for (int64_t i = 0; i < count; ++i) {
      labels_[slot][i] = inputs_[slot][i * cropBytes_];
      scores_[slot][i] = static_cast<float>(i);
    }
    maxInFlight = std::max(maxInFlight, static_cast<int>(std::count(inFlight_.begin(), inFlight_.end(), true)));
    return failLaunch;
  }
  Result<backend::BatchOutputs> wait(int slot) override {
    EXPECT_TRUE(inFlight_[slot]);
    inFlight_[slot] = false;
    return backend::BatchOutputs{.topkLabels = labels_[slot].data(), .topkScores = scores_[slot].data()};
  }
  int64_t numClasses() const override { return 256; }
  int topk() const override { return 1; }
  int64_t memoryBytes() const override { return 0; }
  std::string deviceName() const override { return "fake"; }

  std::vector<int64_t> launchedCounts;
  int maxInFlight = 0;
  Status failLaunch;

 private:
  int64_t batchSize_;
  int64_t cropBytes_;
  std::vector<std::vector<uint8_t>> inputs_;
  std::vector<std::vector<int32_t>> labels_;
  std::vector<std::vector<float>> scores_;
  std::vector<bool> inFlight_;
};

UnitResult unitWithCrops(int64_t sequence, int64_t rows, int64_t cropBytes, uint8_t firstValue) {
  UnitResult unit;
  unit.unit.sequence = sequence;
  unit.unit.numRows = rows;
  unit.crops.assign(rows * cropBytes, 0);
  unit.errors.assign(rows, "");
  for (int64_t row = 0; row < rows; ++row) unit.crops[row * cropBytes] = static_cast<uint8_t>(firstValue + row);
  return unit;
}

TEST(BatchRunnerTest, EveryRowGetsItsOwnResultAcrossUnitsAndPartialBatches) {
  const int64_t cropBytes = 4, batchSize = 3;
  FakeBackend backend(2, batchSize, cropBytes);
  int64_t reported = 0;
  BatchRunner runner(backend, batchSize, cropBytes, [&](int64_t images) { reported += images; });
  std::vector<UnitResult> units;
  units.push_back(unitWithCrops(0, 5, cropBytes, 10));
  units.push_back(unitWithCrops(1, 4, cropBytes, 100));
  units.push_back(unitWithCrops(2, 2, cropBytes, 200));
  units[1].errors[2] = "corrupt";  // skipped: no result expected
  for (auto& unit : units) {
    runner.prepare(unit, false);
    for (int64_t row = 0; row < unit.unit.numRows; ++row) {
      if (!unit.rowFailed(row)) {
        ASSERT_TRUE(runner.add(unit, row).ok());
      }
    }
  }
  ASSERT_TRUE(runner.finish().ok());
  for (const auto& unit : units) {
    EXPECT_EQ(unit.rowsInFlight, 0);
    for (int64_t row = 0; row < unit.unit.numRows; ++row) {
      if (unit.rowFailed(row)) continue;
      EXPECT_EQ(unit.topkLabels[row], unit.crops[row * cropBytes]) << "unit " << unit.unit.sequence << " row " << row;
    }
  }
  EXPECT_EQ(reported, 10);
  EXPECT_EQ(backend.launchedCounts, (std::vector<int64_t>{3, 3, 3, 1}));
  EXPECT_EQ(backend.maxInFlight, 2);  // both slots were used at once
}

TEST(BatchRunnerTest, RowsInFlightCountsRowsWhoseResultsHaveNotArrived) {
  const int64_t cropBytes = 2, batchSize = 4;
  FakeBackend backend(2, batchSize, cropBytes);
  BatchRunner runner(backend, batchSize, cropBytes);
  UnitResult unit = unitWithCrops(0, 6, cropBytes, 1);
  runner.prepare(unit, false);
  for (int64_t row = 0; row < 6; ++row) ASSERT_TRUE(runner.add(unit, row).ok());
  EXPECT_EQ(unit.rowsInFlight, 6);  // one full batch launched, not waited for; two rows open
  ASSERT_TRUE(runner.finish().ok());
  EXPECT_EQ(unit.rowsInFlight, 0);
}

TEST(BatchRunnerTest, FinishMidStreamDeliversTheUnitAndLaterRowsStillRun) {
  const int64_t cropBytes = 2, batchSize = 4;
  FakeBackend backend(2, batchSize, cropBytes);
  BatchRunner runner(backend, batchSize, cropBytes);
  EXPECT_TRUE(runner.idle());
  UnitResult first = unitWithCrops(0, 3, cropBytes, 1);
  UnitResult second = unitWithCrops(1, 5, cropBytes, 50);
  runner.prepare(first, false);
  runner.prepare(second, false);
  for (int64_t row = 0; row < 3; ++row) ASSERT_TRUE(runner.add(first, row).ok());
  EXPECT_FALSE(runner.idle());
  ASSERT_TRUE(runner.finish().ok());  // the pipeline does this when no unit is ready
  EXPECT_TRUE(runner.idle());
  EXPECT_EQ(first.rowsInFlight, 0);
  for (int64_t row = 0; row < 5; ++row) ASSERT_TRUE(runner.add(second, row).ok());
  ASSERT_TRUE(runner.finish().ok());
  for (int64_t row = 0; row < 5; ++row) EXPECT_EQ(second.topkLabels[row], 50 + row);
  EXPECT_EQ(backend.launchedCounts, (std::vector<int64_t>{3, 4, 1}));
}

TEST(BatchRunnerTest, AdvanceWaitsForABatchInFlightBeforeLaunchingAPartFullOne) {
  const int64_t cropBytes = 2, batchSize = 4;
  FakeBackend backend(2, batchSize, cropBytes);
  BatchRunner runner(backend, batchSize, cropBytes);
  UnitResult first = unitWithCrops(0, 6, cropBytes, 1);
  UnitResult second = unitWithCrops(1, 2, cropBytes, 50);
  runner.prepare(first, false);
  runner.prepare(second, false);
  for (int64_t row = 0; row < 6; ++row) ASSERT_TRUE(runner.add(first, row).ok());
  ASSERT_TRUE(runner.advance().ok());  // the full batch in flight completes; two rows stay open
  EXPECT_EQ(first.rowsInFlight, 2);
  EXPECT_EQ(backend.launchedCounts, (std::vector<int64_t>{4}));
  for (int64_t row = 0; row < 2; ++row) ASSERT_TRUE(runner.add(second, row).ok());  // fills the open batch
  EXPECT_EQ(backend.launchedCounts, (std::vector<int64_t>{4, 4}));
  while (!runner.idle()) ASSERT_TRUE(runner.advance().ok());
  EXPECT_EQ(first.rowsInFlight + second.rowsInFlight, 0);
  for (int64_t row = 0; row < 2; ++row) EXPECT_EQ(second.topkLabels[row], 50 + row);

  UnitResult third = unitWithCrops(2, 3, cropBytes, 90);
  runner.prepare(third, false);
  for (int64_t row = 0; row < 3; ++row) ASSERT_TRUE(runner.add(third, row).ok());
  ASSERT_TRUE(runner.advance().ok());  // nothing in flight: the part-full batch goes now
  EXPECT_EQ(backend.launchedCounts, (std::vector<int64_t>{4, 4, 3}));
  ASSERT_TRUE(runner.advance().ok());
  EXPECT_TRUE(runner.idle());
  EXPECT_EQ(third.topkLabels[2], 92);
}

TEST(BatchRunnerTest, ALaunchErrorIsReturned) {
  const int64_t cropBytes = 2, batchSize = 2;
  FakeBackend backend(1, batchSize, cropBytes);
  backend.failLaunch = Status::Internal("GPU fell off the bus");
  BatchRunner runner(backend, batchSize, cropBytes);
  UnitResult unit = unitWithCrops(0, 2, cropBytes, 1);
  runner.prepare(unit, false);
  ASSERT_TRUE(runner.add(unit, 0).ok());
  Status status = runner.add(unit, 1);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("fell off"), std::string::npos);
}

}  // namespace
}  // namespace sluice::engine
