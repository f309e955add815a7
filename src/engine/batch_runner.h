#pragma once
// Feeds the rows of work units into a backend's input slots and scatters the results back into
// the units. Keeps up to backend.slots() batches in flight, so a backend that overlaps batches (the
// copy of batch n+1 while batch n computes) always has the next one ready.

#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "backend/inference_backend.h"
#include "engine/unit_result.h"

namespace sluice::engine {

class BatchRunner {
 public:
  /// `onBatchDone(images)` is called after each batch's results are in their units.
  BatchRunner(backend::InferenceBackend& backend, int64_t batchSize, int64_t cropBytes,
              std::function<void(int64_t)> onBatchDone = {});

  /// Prepares `unit` to receive results: top-k (and logits) arrays sized for its rows.
  void prepare(UnitResult& unit, bool withLogits) const;

  /// Copies crop `row` of `unit` into the open batch, launching the batch once it is full (after
  /// waiting for the oldest batch in flight when every slot is busy). unit.rowsInFlight counts the
  /// rows whose results have not arrived; `unit` must stay at its address until it drops to zero.
  Status add(UnitResult& unit, int64_t row);

  /// Launches the open batch, if any, and waits for every batch in flight; add() may follow.
  Status finish();

  /// One step towards idle() for when no row is coming soon: waits for the oldest batch in flight,
  /// or, with none in flight, launches the open batch. The open batch keeps filling while batches
  /// are in flight, so the device is not handed a part-full batch while it has work.
  Status advance();

  /// True when no row is waiting in an open batch or in flight.
  bool idle() const { return !hasOpenBatch_ && inFlight_.empty(); }

 private:
  struct Batch {
    int slot = 0;
    std::vector<std::pair<UnitResult*, int64_t>> rows;
  };

  Status launchOpenBatch();
  Status completeOldest();

  backend::InferenceBackend& backend_;
  const int64_t batchSize_;
  const int64_t cropBytes_;
  const int64_t numClasses_;
  const int topk_;
  std::function<void(int64_t)> onBatchDone_;
  std::vector<int> freeSlots_;
  Batch open_;
  bool hasOpenBatch_ = false;
  std::deque<Batch> inFlight_;
};

}  // namespace sluice::engine
