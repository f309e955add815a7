#include "io/atomic_parquet_writer.h"

#include <unistd.h>

#include <arrow/type.h>
#include <parquet/arrow/schema.h>

#include <atomic>

#include "io/arrow_status.h"

namespace sluice::io {

namespace {

std::string parentOf(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string temporaryNameFor(const std::string& path) {
  static std::atomic<int> counter{0};
  auto slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  // Hidden (leading '.') so that readers listing the folder skip unfinished files.
  return directory + "." + name + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

bool holdsPixels(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::FIXED_SIZE_LIST: {
      const auto valueType = static_cast<const arrow::BaseListType&>(type).value_type()->id();
      return valueType == arrow::Type::UINT8 || valueType == arrow::Type::INT8;
    }
    default:
      return false;
  }
}

bool holdsBlobs(const arrow::DataType& type) {
  return type.id() == arrow::Type::BINARY || type.id() == arrow::Type::LARGE_BINARY;
}

// Writer properties with per-column encodings for the columns that hold image data. Dictionary
// encoding hashes every value: for a crop column (150,528 uint8 values a row, stored as INT32)
// that cost more CPU than decoding the image, for a 256-entry dictionary; encoded images (binary)
// are all distinct, so their dictionary only fills up and falls back. Pixels are written
// BYTE_STREAM_SPLIT instead: the three high bytes of each INT32 form runs of zeros that Snappy
// removes, so files stay near the dictionary's size at half the writer's CPU time.
Result<std::shared_ptr<parquet::WriterProperties>> writerPropertiesFor(
    const arrow::Schema& schema, const std::shared_ptr<parquet::ArrowWriterProperties>& arrowProperties) {
  parquet::WriterProperties::Builder builder;
  builder.compression(parquet::Compression::SNAPPY)->max_row_group_length(1 << 16);
  std::shared_ptr<parquet::SchemaDescriptor> columns;
  SLUICE_RETURN_IF_ARROW_ERROR(
      parquet::arrow::ToParquetSchema(&schema, *builder.build(), *arrowProperties, &columns),
      "mapping the output schema to Parquet");
  for (int column = 0; column < columns->num_columns(); ++column) {
    const auto field = schema.GetFieldByName(columns->GetColumnRoot(column)->name());
    if (field == nullptr) continue;
    const auto path = columns->Column(column)->path();
    if (holdsPixels(*field->type())) {
      builder.disable_dictionary(path)->encoding(path, parquet::Encoding::BYTE_STREAM_SPLIT);
    } else if (holdsBlobs(*field->type())) {
      builder.disable_dictionary(path);
    }
  }
  return builder.build();
}

}  // namespace

Result<std::unique_ptr<AtomicParquetWriter>> AtomicParquetWriter::Open(const Location& location,
                                                                       const std::string& path,
                                                                       std::shared_ptr<arrow::Schema> schema) {
  auto arrowProperties = parquet::ArrowWriterProperties::Builder().store_schema()->build();
  SLUICE_ASSIGN_OR_RETURN(auto properties, writerPropertiesFor(*schema, arrowProperties));
  auto writer = std::unique_ptr<AtomicParquetWriter>(new AtomicParquetWriter());
  writer->location_ = location;
  writer->path_ = path;
  auto& fs = *location.fileSystem;
  std::string what = "opening output " + location.uriOf(path);
  std::string parent = parentOf(path);
  // S3 has no folders; creating one would only add an empty marker object.
  if (!parent.empty() && !location.isS3) SLUICE_RETURN_IF_ARROW_ERROR(fs.CreateDir(parent, true), what);
  // S3 objects only become visible when the upload completes, so they are written in place.
  writer->temporaryPath_ = location.isS3 ? path : temporaryNameFor(path);
  SLUICE_ASSIGN_OR_RETURN_ARROW(writer->stream_, fs.OpenOutputStream(writer->temporaryPath_), what);
  SLUICE_ASSIGN_OR_RETURN_ARROW(writer->writer_,
                                parquet::arrow::FileWriter::Open(*schema, arrow::default_memory_pool(),
                                                                 writer->stream_, properties, arrowProperties),
                                what);
  return writer;
}

AtomicParquetWriter::~AtomicParquetWriter() { abort(); }

Status AtomicParquetWriter::write(const arrow::RecordBatch& batch) {
  if (finished_) return Status::Internal("write after commit or abort on " + uri());
  // One row group per write: starting the next one sends the previous write's rows out now instead
  // of piling them up in memory until the file is closed (1,000 preprocessed crops are 150 MB).
  // Started before a write, not after it, so that no empty row group ends the file.
  if (wroteRows_) SLUICE_RETURN_IF_ARROW_ERROR(writer_->NewBufferedRowGroup(), "writing " + uri());
  SLUICE_RETURN_IF_ARROW_ERROR(writer_->WriteRecordBatch(batch), "writing " + uri());
  wroteRows_ = true;
  return Status::OK();
}

Status AtomicParquetWriter::commit() {
  if (finished_) return Status::Internal("commit after commit or abort on " + uri());
  std::string what = "finishing " + uri();
  auto status = writer_->Close();
  if (status.ok()) status = stream_->Close();
  if (!status.ok()) {
    abort();
    return fromArrow(status, what);
  }
  finished_ = true;
  if (temporaryPath_ != path_) {
    auto moved = location_.fileSystem->Move(temporaryPath_, path_);
    if (!moved.ok()) {
      (void)location_.fileSystem->DeleteFile(temporaryPath_);
      return fromArrow(moved, what);
    }
  }
  return Status::OK();
}

void AtomicParquetWriter::abort() {
  if (finished_) return;
  finished_ = true;
  if (stream_ && !stream_->closed()) (void)stream_->Abort();
  if (temporaryPath_ != path_) (void)location_.fileSystem->DeleteFile(temporaryPath_);
}

}  // namespace sluice::io
