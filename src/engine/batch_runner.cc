#include "engine/batch_runner.h"

#include <algorithm>

namespace sluice::engine {

BatchRunner::BatchRunner(backend::InferenceBackend& backend, int64_t batchSize, int64_t cropBytes,
                         std::function<void(int64_t)> onBatchDone)
    : backend_(backend),
      batchSize_(batchSize),
      cropBytes_(cropBytes),
      numClasses_(backend.numClasses()),
      topk_(backend.topk()),
      onBatchDone_(std::move(onBatchDone)) {
  for (int slot = backend.slots() - 1; slot >= 0; --slot) freeSlots_.push_back(slot);
}

void BatchRunner::prepare(UnitResult& unit, bool withLogits) const {
  const int64_t rows = unit.unit.numRows;
  unit.topkLabels.assign(rows * topk_, 0);
  unit.topkScores.assign(rows * topk_, 0);
  if (withLogits) unit.logits.assign(rows * numClasses_, 0);
}

Status BatchRunner::add(UnitResult& unit, int64_t row) {
  if (!hasOpenBatch_) {
    if (freeSlots_.empty()) SLUICE_RETURN_IF_ERROR(completeOldest());
    open_.slot = freeSlots_.back();
    freeSlots_.pop_back();
    open_.rows.clear();
    hasOpenBatch_ = true;
  }
  uint8_t* slot = backend_.inputSlot(open_.slot);
  std::copy_n(unit.crops.data() + row * cropBytes_, cropBytes_,
              slot + static_cast<int64_t>(open_.rows.size()) * cropBytes_);
  open_.rows.emplace_back(&unit, row);
  ++unit.rowsInFlight;
  if (static_cast<int64_t>(open_.rows.size()) == batchSize_) return launchOpenBatch();
  return Status::OK();
}

Status BatchRunner::launchOpenBatch() {
  if (!hasOpenBatch_) return Status::OK();
  hasOpenBatch_ = false;
  SLUICE_RETURN_IF_ERROR(backend_.launch(open_.slot, static_cast<int64_t>(open_.rows.size())));
  inFlight_.push_back(std::move(open_));
  open_ = Batch{};
  return Status::OK();
}

Status BatchRunner::completeOldest() {
  Batch batch = std::move(inFlight_.front());
  inFlight_.pop_front();
  SLUICE_ASSIGN_OR_RETURN(backend::BatchOutputs outputs, backend_.wait(batch.slot));
  const int64_t count = static_cast<int64_t>(batch.rows.size());
  for (int64_t i = 0; i < count; ++i) {
    auto [unit, row] = batch.rows[i];
    std::copy_n(outputs.topkLabels + i * topk_, topk_, unit->topkLabels.data() + row * topk_);
    std::copy_n(outputs.topkScores + i * topk_, topk_, unit->topkScores.data() + row * topk_);
    if (outputs.logits && !unit->logits.empty()) {
      std::copy_n(outputs.logits + i * numClasses_, numClasses_, unit->logits.data() + row * numClasses_);
    }
    --unit->rowsInFlight;
  }
  freeSlots_.push_back(batch.slot);
  if (onBatchDone_) onBatchDone_(count);
  return Status::OK();
}

Status BatchRunner::finish() {
  SLUICE_RETURN_IF_ERROR(launchOpenBatch());
  while (!inFlight_.empty()) SLUICE_RETURN_IF_ERROR(completeOldest());
  return Status::OK();
}

Status BatchRunner::advance() {
  if (!inFlight_.empty()) return completeOldest();
  return launchOpenBatch();
}

}  // namespace sluice::engine
