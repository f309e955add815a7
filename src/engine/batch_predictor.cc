#include "engine/batch_predictor.h"

#include <arrow/array/array_binary.h>
#include <arrow/array/array_nested.h>
#include <arrow/array/array_primitive.h>
#include <arrow/buffer.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "engine/backend_factory.h"
#include "engine/batch_runner.h"
#include "engine/unit_result.h"
#include "engine/work_plan.h"
#include "io/arrow_status.h"

namespace sluice::engine {

struct BatchPredictor::Prepared {
  std::shared_ptr<arrow::RecordBatch> input;
  std::shared_ptr<OutputBatchBuilder> builder;
  std::string sourcePath;
  UnitResult unit;
  std::future<void> done;
};

namespace {

/// Where the pixel values of one row of a list-typed image column are.
struct ListSlice {
  const arrow::Array* values = nullptr;
  int64_t offset = 0;
  int64_t length = 0;
};

bool listSlice(const arrow::Array& column, int64_t row, ListSlice* slice) {
  switch (column.type_id()) {
    case arrow::Type::LIST: {
      const auto& list = static_cast<const arrow::ListArray&>(column);
      *slice = {list.values().get(), list.value_offset(row), list.value_length(row)};
      return true;
    }
    case arrow::Type::LARGE_LIST: {
      const auto& list = static_cast<const arrow::LargeListArray&>(column);
      *slice = {list.values().get(), list.value_offset(row), list.value_length(row)};
      return true;
    }
    case arrow::Type::FIXED_SIZE_LIST: {
      const auto& list = static_cast<const arrow::FixedSizeListArray&>(column);
      *slice = {list.values().get(), list.value_offset(row), list.value_length(row)};
      return true;
    }
    default:
      return false;
  }
}

template <typename ArrowType>
bool narrowValues(const arrow::Array& values, int64_t offset, int64_t length, uint8_t* out) {
  const auto* data = static_cast<const arrow::NumericArray<ArrowType>&>(values).raw_values() + offset;
  bool inRange = true;
  for (int64_t i = 0; i < length; ++i) {
    auto value = data[i];
    inRange &= value >= 0 && value <= 255;
    out[i] = static_cast<uint8_t>(value);
  }
  return inRange;
}

/// Copies integer pixel values of another type into uint8. Spark reads Parquet uint8 as smallint and
/// has no unsigned byte type, so images reach a Spark task as list<int16>.
/// Returns "" on success, else the reason.
std::string narrowToUint8(const ListSlice& slice, uint8_t* out) {
  bool inRange = false;
  switch (slice.values->type_id()) {
    case arrow::Type::INT8: inRange = narrowValues<arrow::Int8Type>(*slice.values, slice.offset, slice.length, out); break;
    case arrow::Type::INT16: inRange = narrowValues<arrow::Int16Type>(*slice.values, slice.offset, slice.length, out); break;
    case arrow::Type::INT32: inRange = narrowValues<arrow::Int32Type>(*slice.values, slice.offset, slice.length, out); break;
    case arrow::Type::INT64: inRange = narrowValues<arrow::Int64Type>(*slice.values, slice.offset, slice.length, out); break;
    case arrow::Type::UINT16: inRange = narrowValues<arrow::UInt16Type>(*slice.values, slice.offset, slice.length, out); break;
    case arrow::Type::UINT32: inRange = narrowValues<arrow::UInt32Type>(*slice.values, slice.offset, slice.length, out); break;
    default:
      return "image column has unsupported value type " + slice.values->type()->ToString();
  }
  if (!inRange) return "image has pixel values outside 0-255";
  return "";
}

bool isUint8List(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::FIXED_SIZE_LIST:
      return static_cast<const arrow::BaseListType&>(type).value_type()->id() == arrow::Type::UINT8;
    default:
      return true;  // binary, or a type RowDecoder reports itself
  }
}

Result<std::shared_ptr<arrow::Array>> requireColumn(const arrow::RecordBatch& batch, const std::string& name,
                                                    const std::string& role) {
  auto column = batch.GetColumnByName(name);
  if (!column) {
    return Status::InvalidArgument("the input has no column '" + name + "' (" + role + "); its columns are " +
                                   batch.schema()->ToString(false));
  }
  return column;
}

}  // namespace

BatchPredictor::BatchPredictor(const BatchPredictorOptions& options) : options_(options) {}

BatchPredictor::~BatchPredictor() {
  for (auto& prepared : pending_) {
    if (prepared->done.valid()) prepared->done.wait();
  }
}

Result<std::unique_ptr<BatchPredictor>> BatchPredictor::Make(const BatchPredictorOptions& options,
                                                             const BackendFactory& makeBackend) {
  std::unique_ptr<BatchPredictor> predictor(new BatchPredictor(options));
  SLUICE_RETURN_IF_ERROR(predictor->open(makeBackend));
  return predictor;
}

Status BatchPredictor::open(const BackendFactory& makeBackend) {
  const auto& shape = options_.imageShape;
  if (shape.height < options_.cropSize || shape.width < options_.cropSize) {
    return Status::InvalidArgument("images of shape " + shape.toString() + " are smaller than the crop size " +
                                   std::to_string(options_.cropSize));
  }
  if (options_.topk < 1) return Status::InvalidArgument("topk must be at least 1");
  if (options_.pathColumn.empty() != options_.rowColumn.empty()) {
    return Status::InvalidArgument("give both a path column and a row column, or neither");
  }
  workers_ = options_.cpuWorkers > 0 ? options_.cpuWorkers : std::max(1u, std::thread::hardware_concurrency());
  resizeCrop_ = image::ResizeCropOptions{options_.resizeSize, options_.cropSize, options_.dctScalingMargin};
  SLUICE_RETURN_IF_ERROR(image::validate(resizeCrop_));
  cropBytes_ = RowDecoder(shape, resizeCrop_).cropBytes();
  nextRow_ = options_.firstRow;
  const std::string device = resolveDevice(options_.device);
  batchSize_ = options_.batchSize > 0 ? options_.batchSize : defaultBatchSize(device);
  if (options_.mode == JobMode::kPreprocess) return Status::OK();
  if (options_.modelPath.empty()) return Status::InvalidArgument("no model given");

  const DeviceRequest request{.device = options_.device, .devices = {}, .precision = options_.precision, .workers = 1};
  SLUICE_ASSIGN_OR_RETURN(auto plans, planBackends(request, backendOptionsFor(options_, batchSize_)));
  SLUICE_ASSIGN_OR_RETURN(backend_, makeBackend(plans.front()));
  numClasses_ = backend_->numClasses();
  topk_ = backend_->topk();
  return Status::OK();
}

std::string BatchPredictor::deviceName() const {
  return backend_ ? backend_->deviceName() : "none (preprocess only)";
}

Result<OutputLayout> BatchPredictor::layoutFor(const arrow::Schema& input) const {
  OutputLayout layout;
  layout.mode = options_.mode;
  layout.numClasses = numClasses_;
  layout.topk = topk_;
  layout.writeLogits = options_.writeLogits && options_.mode != JobMode::kPreprocess;
  layout.cropShape = image::ImageShape{options_.cropSize, options_.cropSize, options_.imageShape.channels};
  layout.hasSourceColumns = !options_.pathColumn.empty();
  for (const auto& name : options_.passThrough) {
    auto field = input.GetFieldByName(name);
    if (!field) return Status::InvalidArgument("pass-through column '" + name + "' is not in the input");
    layout.passThrough.push_back(field);
  }
  return layout;
}

Result<std::shared_ptr<arrow::Schema>> BatchPredictor::outputSchema(const arrow::Schema& input) const {
  SLUICE_ASSIGN_OR_RETURN(auto layout, layoutFor(input));
  auto schema = OutputBatchBuilder(std::move(layout)).schema();
  if (!options_.variableSizeLists) return schema;
  arrow::FieldVector fields = schema->fields();
  for (auto& field : fields) {
    if (field->type()->id() != arrow::Type::FIXED_SIZE_LIST) continue;
    field = field->WithType(arrow::list(arrow::field("item", arrow::float32(), false)));
  }
  return arrow::schema(fields, schema->metadata());
}

Status BatchPredictor::submit(std::shared_ptr<arrow::RecordBatch> batch) {
  auto prepared = std::make_unique<Prepared>();
  const int64_t rows = batch->num_rows();
  SLUICE_RETURN_IF_ERROR(requireColumn(*batch, options_.imageColumn, "the images").status());
  std::vector<std::string> extraColumns = options_.passThrough;
  if (!options_.pathColumn.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto paths, requireColumn(*batch, options_.pathColumn, "the source path"));
    SLUICE_ASSIGN_OR_RETURN(auto rowIndices, requireColumn(*batch, options_.rowColumn, "the source row"));
    if (paths->type_id() != arrow::Type::STRING || rowIndices->type_id() != arrow::Type::INT64) {
      return Status::InvalidArgument("the path column must be string and the row column int64; they are " +
                                     paths->type()->ToString() + " and " + rowIndices->type()->ToString());
    }
    extraColumns.push_back(options_.pathColumn);
    extraColumns.push_back(options_.rowColumn);
  }
  if (!options_.errorColumn.empty()) {
    auto errors = batch->GetColumnByName(options_.errorColumn);
    if (errors && errors->type_id() != arrow::Type::STRING) {
      return Status::InvalidArgument("the error column '" + options_.errorColumn + "' must be string, not " +
                                     errors->type()->ToString());
    }
  }
  SLUICE_ASSIGN_OR_RETURN(auto layout, layoutFor(*batch->schema()));
  prepared->builder = std::make_shared<OutputBatchBuilder>(std::move(layout));
  if (!extraColumns.empty()) {
    arrow::ArrayVector columns;
    arrow::FieldVector fields;
    for (const auto& name : extraColumns) {
      columns.push_back(batch->GetColumnByName(name));
      fields.push_back(batch->schema()->GetFieldByName(name));
    }
    prepared->unit.extra = arrow::RecordBatch::Make(arrow::schema(fields), rows, std::move(columns));
  }
  prepared->unit.unit.numRows = rows;
  prepared->unit.unit.firstRow = nextRow_;
  prepared->sourcePath = options_.sourcePath;
  nextRow_ += rows;
  prepared->input = std::move(batch);
  Prepared* raw = prepared.get();
  prepared->done = std::async(std::launch::async, [this, raw] { preprocess(*raw); });
  pending_.push_back(std::move(prepared));
  return Status::OK();
}

void BatchPredictor::preprocess(Prepared& prepared) const {
  const auto& batch = *prepared.input;
  UnitResult& unit = prepared.unit;
  const int64_t rows = batch.num_rows();
  const int64_t cropBytes = cropBytes_;
  unit.crops.assign(rows * cropBytes, 0);
  unit.errors.assign(rows, "");
  const auto images = batch.GetColumnByName(options_.imageColumn);
  std::shared_ptr<arrow::StringArray> sourceErrors;
  if (!options_.errorColumn.empty()) {
    if (auto column = batch.GetColumnByName(options_.errorColumn)) {
      sourceErrors = std::static_pointer_cast<arrow::StringArray>(column);
    }
  }
  const bool narrow = !isUint8List(*images->type());
  auto work = [&](int64_t begin, int64_t end) {
    RowDecoder decoder(options_.imageShape, resizeCrop_);  // keeps decoding buffers: one per thread
    std::vector<uint8_t> pixels;
    for (int64_t row = begin; row < end; ++row) {
      std::string& error = unit.errors[row];
      uint8_t* crop = unit.crops.data() + row * cropBytes;
      if (sourceErrors && !sourceErrors->IsNull(row)) {
        error = std::string(sourceErrors->GetView(row));
        if (error.empty()) error = kEarlierStageFailure;
        continue;
      }
      if (!narrow || images->IsNull(row)) {
        error = decoder.decode(*images, row, crop);
        continue;
      }
      ListSlice slice;
      if (!listSlice(*images, row, &slice)) {
        error = "image column has unsupported type " + images->type()->ToString();
        continue;
      }
      if (slice.length != options_.imageShape.bytes()) {
        error = "image has " + std::to_string(slice.length) + " values; expected " +
                std::to_string(options_.imageShape.bytes()) + " for image shape " + options_.imageShape.toString();
        continue;
      }
      pixels.resize(slice.length);
      error = narrowToUint8(slice, pixels.data());
      if (error.empty()) {
        image::centerCrop(pixels.data(), options_.imageShape, options_.cropSize, options_.cropSize, crop);
      }
    }
  };
  const int64_t threads = std::clamp<int64_t>(workers_, 1, std::max<int64_t>(rows, 1));
  const int64_t perThread = (rows + threads - 1) / threads;
  std::vector<std::thread> helpers;
  for (int64_t t = 1; t < threads; ++t) {
    int64_t begin = t * perThread;
    if (begin >= rows) break;
    helpers.emplace_back(work, begin, std::min(rows, begin + perThread));
  }
  work(0, std::min(rows, perThread));
  for (auto& helper : helpers) helper.join();
}

Status BatchPredictor::infer(Prepared& prepared) {
  UnitResult& unit = prepared.unit;
  BatchRunner runner(*backend_, batchSize_, cropBytes_);
  runner.prepare(unit, options_.writeLogits);
  for (int64_t row = 0; row < unit.unit.numRows; ++row) {
    if (!unit.rowFailed(row)) SLUICE_RETURN_IF_ERROR(runner.add(unit, row));
  }
  SLUICE_RETURN_IF_ERROR(runner.finish());
  unit.crops = {};
  return Status::OK();
}

Result<std::shared_ptr<arrow::RecordBatch>> BatchPredictor::collect() {
  if (pending_.empty()) return Status::InvalidArgument("collect() called with no submitted batch");
  std::unique_ptr<Prepared> prepared = std::move(pending_.front());
  pending_.pop_front();
  prepared->done.get();
  if (options_.mode != JobMode::kPreprocess) SLUICE_RETURN_IF_ERROR(infer(*prepared));
  SLUICE_ASSIGN_OR_RETURN(auto output, prepared->builder->build(prepared->unit, prepared->sourcePath));
  if (!options_.variableSizeLists) return output;
  return toVariableSizeLists(std::move(output));
}

Result<std::shared_ptr<arrow::RecordBatch>> BatchPredictor::process(std::shared_ptr<arrow::RecordBatch> batch) {
  SLUICE_RETURN_IF_ERROR(submit(std::move(batch)));
  return collect();
}

Result<std::shared_ptr<arrow::RecordBatch>> BatchPredictor::toVariableSizeLists(
    std::shared_ptr<arrow::RecordBatch> batch) const {
  arrow::ArrayVector columns = batch->columns();
  arrow::FieldVector fields = batch->schema()->fields();
  const int64_t rows = batch->num_rows();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i]->type_id() != arrow::Type::FIXED_SIZE_LIST) continue;
    const auto& list = static_cast<const arrow::FixedSizeListArray&>(*columns[i]);
    if (list.offset() != 0) return Status::Internal("toVariableSizeLists expects unsliced output columns");
    const int64_t width = list.value_length();
    const auto& values = list.values();
    std::vector<int32_t> offsets(rows + 1);
    for (int64_t row = 0; row <= rows; ++row) offsets[row] = static_cast<int32_t>(row * width);
    auto type = arrow::list(arrow::field("item", values->type(), false));
    columns[i] = std::make_shared<arrow::ListArray>(type, rows, arrow::Buffer::FromVector(std::move(offsets)),
                                                    values->Slice(0, rows * width), list.null_bitmap(),
                                                    list.null_count());
    fields[i] = fields[i]->WithType(type);
  }
  return arrow::RecordBatch::Make(arrow::schema(fields, batch->schema()->metadata()), rows, std::move(columns));
}

}  // namespace sluice::engine
