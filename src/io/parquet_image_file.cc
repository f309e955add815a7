#include "io/parquet_image_file.h"

#include <arrow/io/interfaces.h>
#include <arrow/util/key_value_metadata.h>
#include <parquet/arrow/reader.h>
#include <parquet/arrow/schema.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/properties.h>

#include "io/arrow_status.h"

namespace sluice::io {

namespace {

void collectLeaves(const parquet::arrow::SchemaField& field, std::vector<int>& leaves) {
  if (field.is_leaf()) leaves.push_back(field.column_index);
  for (const auto& child : field.children) collectLeaves(child, leaves);
}

bool isUint8(const std::shared_ptr<arrow::DataType>& type) { return type->id() == arrow::Type::UINT8; }

Result<ImageColumnKind> imageKindOf(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::LIST:
      if (isUint8(static_cast<const arrow::ListType&>(type).value_type())) return ImageColumnKind::kList;
      break;
    case arrow::Type::LARGE_LIST:
      if (isUint8(static_cast<const arrow::LargeListType&>(type).value_type())) return ImageColumnKind::kList;
      break;
    case arrow::Type::FIXED_SIZE_LIST:
      if (isUint8(static_cast<const arrow::FixedSizeListType&>(type).value_type()))
        return ImageColumnKind::kFixedSizeList;
      break;
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
      return ImageColumnKind::kBinary;
    default:
      break;
  }
  return Status::InvalidArgument("has type " + type.ToString() +
                                 "; expected list<uint8>, fixed_size_list<uint8> or binary");
}

parquet::ReaderProperties readerProperties() {
  parquet::ReaderProperties properties;
  // Stream column chunks page by page instead of loading whole chunks: a row group of 1,000 raw
  // 256x256 images is 200 MB.
  properties.enable_buffered_stream();
  properties.set_buffer_size(4 << 20);
  return properties;
}

/// Keeps the Parquet file reader alive for as long as the batches are read from it.
class OwningBatchReader : public arrow::RecordBatchReader {
 public:
  OwningBatchReader(std::unique_ptr<parquet::arrow::FileReader> fileReader,
                    std::shared_ptr<arrow::RecordBatchReader> batches)
      : fileReader_(std::move(fileReader)), batches_(std::move(batches)) {}
  std::shared_ptr<arrow::Schema> schema() const override { return batches_->schema(); }
  arrow::Status ReadNext(std::shared_ptr<arrow::RecordBatch>* batch) override {
    try {
      return batches_->ReadNext(batch);
    } catch (const parquet::ParquetException& error) {
      return arrow::Status::IOError(error.what());
    }
  }

 private:
  std::unique_ptr<parquet::arrow::FileReader> fileReader_;
  std::shared_ptr<arrow::RecordBatchReader> batches_;
};

}  // namespace

Result<std::unique_ptr<ParquetImageFile>> ParquetImageFile::Open(const Location& location, const InputFile& file,
                                                                 const std::string& imageColumn,
                                                                 const std::vector<std::string>& extraColumns) {
  std::string uri = location.uriOf(file.path);
  auto result = std::unique_ptr<ParquetImageFile>(new ParquetImageFile());
  result->location_ = location;
  result->file_ = file;

  arrow::fs::FileInfo info(file.path, arrow::fs::FileType::File);
  if (file.sizeBytes >= 0) info.set_size(file.sizeBytes);
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto input, location.fileSystem->OpenInputFile(info), "opening " + uri);
  std::unique_ptr<parquet::arrow::FileReader> reader;
  try {
    parquet::arrow::FileReaderBuilder builder;
    auto opened = builder.Open(input, readerProperties());
    if (!opened.ok()) {
      return Status::InvalidData(uri + " is not a readable Parquet file: " + opened.message());
    }
    SLUICE_RETURN_IF_ARROW_ERROR(builder.Build(&reader), "reading the footer of " + uri);
  } catch (const parquet::ParquetException& error) {
    return Status::InvalidData(uri + " is not a readable Parquet file: " + error.what());
  }
  result->metadata_ = reader->parquet_reader()->metadata();
  SLUICE_RETURN_IF_ARROW_ERROR(reader->GetSchema(&result->schema_), "reading the schema of " + uri);

  const auto& schema = *result->schema_;
  int imageIndex = schema.GetFieldIndex(imageColumn);
  if (imageIndex < 0) {
    return Status::InvalidArgument(uri + " has no column '" + imageColumn + "' (columns: " +
                                   schema.ToString(false) + "); choose the image column with --image-column");
  }
  auto kind = imageKindOf(*schema.field(imageIndex)->type());
  if (!kind.ok()) return Status::InvalidArgument(uri + ": column '" + imageColumn + "' " + kind.status().message());
  result->imageKind_ = *kind;

  const auto& manifest = reader->manifest();
  collectLeaves(manifest.schema_fields[imageIndex], result->leafColumns_);
  for (const auto& name : extraColumns) {
    int index = schema.GetFieldIndex(name);
    if (index < 0) return Status::InvalidArgument(uri + " has no column '" + name + "' to pass through");
    collectLeaves(manifest.schema_fields[index], result->leafColumns_);
  }
  return result;
}

std::string ParquetImageFile::metadataValue(const std::string& key) const {
  auto metadata = schema_->metadata();
  if (!metadata) return "";
  auto value = metadata->Get(key);
  return value.ok() ? *value : "";
}

Result<std::shared_ptr<arrow::RecordBatchReader>> ParquetImageFile::readRowGroup(int rowGroup,
                                                                                 int64_t batchRows) const {
  std::string what = "reading row group " + std::to_string(rowGroup) + " of " + uri();
  arrow::fs::FileInfo info(file_.path, arrow::fs::FileType::File);
  if (file_.sizeBytes >= 0) info.set_size(file_.sizeBytes);
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto input, location_.fileSystem->OpenInputFile(info), what);
  parquet::ArrowReaderProperties arrowProperties;
  arrowProperties.set_batch_size(batchRows);
  arrowProperties.set_pre_buffer(false);
  std::unique_ptr<parquet::arrow::FileReader> reader;
  try {
    parquet::arrow::FileReaderBuilder builder;
    SLUICE_RETURN_IF_ARROW_ERROR(builder.Open(input, readerProperties(), metadata_), what);
    SLUICE_RETURN_IF_ARROW_ERROR(builder.properties(arrowProperties)->Build(&reader), what);
    std::shared_ptr<arrow::RecordBatchReader> batches;
    SLUICE_ASSIGN_OR_RETURN_ARROW(batches, reader->GetRecordBatchReader({rowGroup}, leafColumns_), what);
    return std::shared_ptr<arrow::RecordBatchReader>(
        std::make_shared<OwningBatchReader>(std::move(reader), std::move(batches)));
  } catch (const parquet::ParquetException& error) {
    return Status::InvalidData(what + ": " + error.what());
  }
}

}  // namespace sluice::io
