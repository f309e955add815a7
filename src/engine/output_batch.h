#pragma once
// Builds the output record batch of one unit, in the schema of DESIGN.md:
// predictions: path, row, label, topk_labels, topk_scores, [logits], error, pass-through columns;
// preprocess:  path, row, image (the uint8 crop), error, pass-through columns.

#include <arrow/record_batch.h>
#include <arrow/type.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/job_options.h"
#include "engine/unit_result.h"

namespace sluice::engine {

struct OutputLayout {
  JobMode mode = JobMode::kRun;
  int64_t numClasses = 0;
  int topk = 5;
  bool writeLogits = false;
  image::ImageShape cropShape;
  /// Pass-through fields as read; written under the same name, or "input_<name>" if that name is
  /// one of the output's own columns (e.g. `label` in predictions, but not in preprocessed crops).
  std::vector<std::shared_ptr<arrow::Field>> passThrough;
  bool hasSourceColumns = false;  // the extra columns after the pass-through ones are path, row, error
  /// Preprocess: rows in the largest unit, to choose 64-bit offsets for the crop column when one
  /// unit's crops pass 2 GiB (0: unknown, 32-bit offsets; build() fails on such a unit).
  int64_t largestUnitRows = 0;
};

class OutputBatchBuilder {
 public:
  explicit OutputBatchBuilder(OutputLayout layout);

  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

  /// Consumes the unit's crops (preprocess mode: one binary value of cropShape.bytes() HWC uint8
  /// pixels per row). `sourceUri` is the input file's URI.
  Result<std::shared_ptr<arrow::RecordBatch>> build(UnitResult& unit, const std::string& sourceUri) const;

 private:
  OutputLayout layout_;
  std::shared_ptr<arrow::Schema> schema_;
};

}  // namespace sluice::engine
