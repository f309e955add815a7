#pragma once
// What flows through the pipeline for one work unit: filled by the preprocessing stage (crops,
// errors, extra columns), then by the inference stage (top-k, logits), then written.

#include <arrow/array.h>
#include <arrow/record_batch.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/work_plan.h"

namespace sluice::engine {

struct UnitResult {
  WorkUnit unit;
  std::vector<uint8_t> crops;          // unit.numRows crops of cropBytes each; rows with errors are zero
  std::vector<std::string> errors;     // one per row; empty when the row succeeded
  std::shared_ptr<arrow::RecordBatch> extra;  // the plan's extra columns for these rows (may be null)
  std::vector<int32_t> topkLabels;     // numRows x k
  std::vector<float> topkScores;       // numRows x k
  std::vector<float> logits;           // numRows x classes, only when --logits
  Status fileError;                    // reading the unit failed: the whole file is bad
  int64_t rowsInFlight = 0;            // rows handed to the model whose results have not arrived

  bool rowFailed(int64_t row) const { return !errors[row].empty(); }

  /// Approximate memory held, for the queues' byte budgets.
  int64_t bytes() const {
    int64_t total = static_cast<int64_t>(crops.capacity() + topkLabels.capacity() * 4 + topkScores.capacity() * 4 +
                                         logits.capacity() * 4) +
                    unit.numRows * 64;
    if (extra) {
      for (const auto& column : extra->columns()) {
        for (const auto& buffer : column->data()->buffers) total += buffer ? buffer->size() : 0;
      }
    }
    return total;
  }
};

}  // namespace sluice::engine
