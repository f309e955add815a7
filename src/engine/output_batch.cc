#include "engine/output_batch.h"

#include <arrow/array/array_nested.h>
#include <arrow/array/builder_binary.h>
#include <arrow/array/builder_nested.h>
#include <arrow/array/builder_primitive.h>
#include <arrow/buffer.h>
#include <arrow/util/bit_util.h>
#include <arrow/util/key_value_metadata.h>

#include <algorithm>
#include <limits>

#include "io/arrow_status.h"

namespace sluice::engine {

namespace {

/// Validity bitmap with one bit per row: set where the row succeeded.
Result<std::shared_ptr<arrow::Buffer>> successBitmap(const UnitResult& unit, int64_t* nullCount) {
  int64_t rows = unit.unit.numRows;
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto bitmap, arrow::AllocateBitmap(rows), "allocating output");
  *nullCount = 0;
  for (int64_t row = 0; row < rows; ++row) {
    arrow::bit_util::SetBitTo(bitmap->mutable_data(), row, !unit.rowFailed(row));
    *nullCount += unit.rowFailed(row);
  }
  return std::shared_ptr<arrow::Buffer>(std::move(bitmap));
}

template <typename T>
std::shared_ptr<arrow::Array> primitiveArray(std::vector<T> values) {
  using ArrowType = typename arrow::CTypeTraits<T>::ArrowType;
  int64_t length = static_cast<int64_t>(values.size());
  return std::make_shared<arrow::NumericArray<ArrowType>>(length, arrow::Buffer::FromVector(std::move(values)));
}

}  // namespace

OutputBatchBuilder::OutputBatchBuilder(OutputLayout layout) : layout_(std::move(layout)) {
  arrow::FieldVector fields = {arrow::field("path", arrow::utf8(), false), arrow::field("row", arrow::int64(), false)};
  std::shared_ptr<arrow::KeyValueMetadata> metadata;
  if (layout_.mode == JobMode::kPreprocess) {
    // Binary, one value a crop: Parquet writes it as one BYTE_ARRAY a row, where a list of uint8
    // becomes 150,528 INT32 values a row that cost the writer (and the reader) 8x the CPU time.
    const bool large = layout_.largestUnitRows * layout_.cropShape.bytes() > std::numeric_limits<int32_t>::max();
    fields.push_back(arrow::field("image", large ? arrow::large_binary() : arrow::binary()));
    metadata = arrow::key_value_metadata({kCropShapeMetadataKey}, {layout_.cropShape.toString()});
  } else {
    fields.push_back(arrow::field("label", arrow::int32()));
    fields.push_back(arrow::field("topk_labels", arrow::list(arrow::field("item", arrow::int32(), false))));
    fields.push_back(arrow::field("topk_scores", arrow::list(arrow::field("item", arrow::float32(), false))));
    if (layout_.writeLogits) {
      fields.push_back(arrow::field(
          "logits", arrow::fixed_size_list(arrow::field("item", arrow::float32(), false),
                                           static_cast<int32_t>(layout_.numClasses))));
    }
  }
  fields.push_back(arrow::field("error", arrow::utf8()));
  const size_t ownColumns = fields.size();
  for (const auto& field : layout_.passThrough) {
    bool clashes = std::any_of(fields.begin(), fields.begin() + ownColumns,
                               [&](const auto& own) { return own->name() == field->name(); });
    fields.push_back(clashes ? field->WithName("input_" + field->name()) : field);
  }
  schema_ = arrow::schema(fields, metadata);
}

Result<std::shared_ptr<arrow::RecordBatch>> OutputBatchBuilder::build(UnitResult& unit,
                                                                      const std::string& sourceUri) const {
  const int64_t rows = unit.unit.numRows;
  const size_t passThroughCount = layout_.passThrough.size();
  std::string what = "building output rows for " + sourceUri;
  arrow::ArrayVector columns;

  // path, row: the input's, or for preprocessed input the original source's.
  if (layout_.hasSourceColumns) {
    columns.push_back(unit.extra->column(static_cast<int>(passThroughCount)));
    columns.push_back(unit.extra->column(static_cast<int>(passThroughCount + 1)));
  } else {
    arrow::StringBuilder paths;
    SLUICE_RETURN_IF_ARROW_ERROR(paths.Reserve(rows), what);
    SLUICE_RETURN_IF_ARROW_ERROR(paths.ReserveData(rows * static_cast<int64_t>(sourceUri.size())), what);
    for (int64_t row = 0; row < rows; ++row) paths.UnsafeAppend(sourceUri);
    std::shared_ptr<arrow::Array> pathArray;
    SLUICE_RETURN_IF_ARROW_ERROR(paths.Finish(&pathArray), what);
    columns.push_back(pathArray);
    std::vector<int64_t> rowIndices(rows);
    for (int64_t row = 0; row < rows; ++row) rowIndices[row] = unit.unit.firstRow + row;
    columns.push_back(primitiveArray(std::move(rowIndices)));
  }

  int64_t nullCount = 0;
  SLUICE_ASSIGN_OR_RETURN(auto validity, successBitmap(unit, &nullCount));
  if (layout_.mode == JobMode::kPreprocess) {
    // Failed rows keep their zero crops, so every value has the crop's size; the error column
    // marks them, and `predict` skips them by it.
    const int64_t cropBytes = layout_.cropShape.bytes();
    if (static_cast<int64_t>(unit.crops.size()) != rows * cropBytes) {
      return Status::Internal(what + ": " + std::to_string(unit.crops.size()) + " crop bytes for " +
                              std::to_string(rows) + " rows");
    }
    auto data = arrow::Buffer::FromVector(std::move(unit.crops));
    if (schema_->field(2)->type()->id() == arrow::Type::LARGE_BINARY) {
      std::vector<int64_t> offsets(rows + 1);
      for (int64_t row = 0; row <= rows; ++row) offsets[row] = row * cropBytes;
      columns.push_back(std::make_shared<arrow::LargeBinaryArray>(rows, arrow::Buffer::FromVector(std::move(offsets)),
                                                                  std::move(data)));
    } else {
      if (rows * cropBytes > std::numeric_limits<int32_t>::max()) {
        return Status::InvalidArgument(what + ": " + std::to_string(rows) +
                                       " crops pass 2 GiB in one binary column; use smaller batches");
      }
      std::vector<int32_t> offsets(rows + 1);
      for (int64_t row = 0; row <= rows; ++row) offsets[row] = static_cast<int32_t>(row * cropBytes);
      columns.push_back(
          std::make_shared<arrow::BinaryArray>(rows, arrow::Buffer::FromVector(std::move(offsets)), std::move(data)));
    }
  } else {
    const int k = static_cast<int>(std::min<int64_t>(layout_.topk, layout_.numClasses));
    std::vector<int32_t> labels(rows, 0);
    std::vector<int32_t> offsets(rows + 1, 0);
    for (int64_t row = 0; row < rows; ++row) {
      bool ok = !unit.rowFailed(row);
      if (ok) labels[row] = unit.topkLabels[row * k];
      offsets[row + 1] = offsets[row] + (ok ? k : 0);
    }
    std::vector<int32_t> topLabels;
    std::vector<float> topScores;
    topLabels.reserve(offsets[rows]);
    topScores.reserve(offsets[rows]);
    for (int64_t row = 0; row < rows; ++row) {
      if (unit.rowFailed(row)) continue;
      topLabels.insert(topLabels.end(), unit.topkLabels.begin() + row * k, unit.topkLabels.begin() + (row + 1) * k);
      topScores.insert(topScores.end(), unit.topkScores.begin() + row * k, unit.topkScores.begin() + (row + 1) * k);
    }
    columns.push_back(std::make_shared<arrow::Int32Array>(rows, arrow::Buffer::FromVector(std::move(labels)),
                                                          validity, nullCount));
    auto offsetBuffer = arrow::Buffer::FromVector(std::move(offsets));
    columns.push_back(std::make_shared<arrow::ListArray>(schema_->field(3)->type(), rows, offsetBuffer,
                                                         primitiveArray(std::move(topLabels)), validity, nullCount));
    columns.push_back(std::make_shared<arrow::ListArray>(schema_->field(4)->type(), rows, offsetBuffer,
                                                         primitiveArray(std::move(topScores)), validity, nullCount));
    if (layout_.writeLogits) {
      // A failed row's logits are NaN rather than null: Arrow 25 cannot read a null fixed-size list
      // back from Parquet (apache/arrow GH-35692). Its error column says why.
      const int64_t classes = layout_.numClasses;
      unit.logits.resize(rows * classes, std::numeric_limits<float>::quiet_NaN());  // a unit that never ran
      for (int64_t row = 0; row < rows; ++row) {
        if (unit.rowFailed(row)) {
          std::fill_n(unit.logits.begin() + row * classes, classes, std::numeric_limits<float>::quiet_NaN());
        }
      }
      SLUICE_ASSIGN_OR_RETURN_ARROW(auto logits,
                                    arrow::FixedSizeListArray::FromArrays(primitiveArray(std::move(unit.logits)),
                                                                          schema_->field(5)->type()),
                                    what);
      columns.push_back(logits);
    }
  }

  arrow::StringBuilder errors;
  for (int64_t row = 0; row < rows; ++row) {
    SLUICE_RETURN_IF_ARROW_ERROR(unit.rowFailed(row) ? errors.Append(unit.errors[row]) : errors.AppendNull(), what);
  }
  std::shared_ptr<arrow::Array> errorArray;
  SLUICE_RETURN_IF_ARROW_ERROR(errors.Finish(&errorArray), what);
  columns.push_back(errorArray);

  for (size_t i = 0; i < passThroughCount; ++i) columns.push_back(unit.extra->column(static_cast<int>(i)));
  return arrow::RecordBatch::Make(schema_, rows, std::move(columns));
}

}  // namespace sluice::engine
