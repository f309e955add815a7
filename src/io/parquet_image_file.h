#pragma once
// One input Parquet file of images: its footer (read once) and thread-safe reading of row groups.

#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <parquet/metadata.h>

#include <memory>
#include <string>
#include <vector>

#include "io/input_listing.h"
#include "io/storage.h"

namespace sluice::io {

/// How the image column stores each image.
enum class ImageColumnKind {
  kList,           // list<uint8> or large_list<uint8>: raw pixels
  kFixedSizeList,  // fixed_size_list<uint8>[n]: raw pixels
  kBinary,         // binary / large_binary: raw pixels or encoded bytes
};

/// Receives a list<uint8> image column from ParquetImageFile::streamPixels, one run of values at a
/// time, rows in order.
class PixelSink {
 public:
  virtual ~PixelSink() = default;
  /// Values [offset, offset + count) of row `row`'s list, as Parquet stores uint8 (INT32): the
  /// values themselves, or, when `dictionary` is not null, indices into it (checked in range).
  virtual void values(int64_t row, int64_t offset, const int32_t* values, int64_t count,
                      const int32_t* dictionary) = 0;
  struct Row {
    int64_t length = 0;      // values in the list, null ones included
    int64_t nullValues = 0;  // null values: they are counted, never passed to values()
    bool isNull = false;     // the list itself is null
  };
  /// Row `row` is complete.
  virtual void endRow(int64_t row, const Row& summary) = 0;
};

/// The number of rows a Parquet file under `location` says it holds, from its footer. `info` as
/// the filesystem listed it (with its size: on S3 that saves a request).
Result<int64_t> parquetRowCount(const Location& location, const arrow::fs::FileInfo& info);

class ParquetImageFile {
 public:
  /// Reads the footer of `file` (unless given) and checks that `imageColumn` exists with a supported type and that
  /// every name in `extraColumns` exists. Errors name the file.
  static Result<std::unique_ptr<ParquetImageFile>> Open(const Location& location, const InputFile& file,
                                                        const std::string& imageColumn,
                                                        const std::vector<std::string>& extraColumns,
                                                        std::shared_ptr<parquet::FileMetaData> footer = nullptr);
  /// The same file with other extra columns, from the footer already read (nothing is read again).
  Result<std::unique_ptr<ParquetImageFile>> withExtraColumns(const std::string& imageColumn,
                                                             const std::vector<std::string>& extraColumns) const {
    return Open(location_, file_, imageColumn, extraColumns, metadata_);
  }

  const InputFile& file() const { return file_; }
  std::string uri() const { return location_.uriOf(file_.path); }
  int64_t numRows() const { return metadata_->num_rows(); }
  int numRowGroups() const { return metadata_->num_row_groups(); }
  int64_t rowGroupRows(int rowGroup) const { return metadata_->RowGroup(rowGroup)->num_rows(); }
  ImageColumnKind imageKind() const { return imageKind_; }
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }
  /// A value from the file's key/value metadata, or "" if absent.
  std::string metadataValue(const std::string& key) const;
  /// True if the file has a top-level column of this name.
  bool hasColumn(const std::string& name) const { return schema_->GetFieldIndex(name) >= 0; }

  /// Reads the image column (unless `withImage` is false) and `extraColumns`, in that order, of one
  /// row group, in record batches of at most `batchRows` rows. May be called from several threads
  /// at once.
  Result<std::shared_ptr<arrow::RecordBatchReader>> readRowGroup(int rowGroup, int64_t batchRows,
                                                                 bool withImage = true) const;

  /// True when the image column is a list of uint8 (Parquet INT32, 3-level list), which
  /// streamPixels reads straight from the pages.
  bool canStreamPixels() const { return streamablePixels_; }
  /// Reads the image column of the first `maxRows` rows of one row group page by page into `sink`,
  /// without building Arrow arrays (no list offsets, no copy into a list array, no cast). Errors
  /// (corrupt pages, fewer or more rows than the footer says) name the file and row group.
  /// Thread-safe.
  Status streamPixels(int rowGroup, int64_t maxRows, PixelSink& sink) const;

 private:
  ParquetImageFile() = default;

  Location location_;
  InputFile file_;
  std::shared_ptr<parquet::FileMetaData> metadata_;
  std::shared_ptr<arrow::Schema> schema_;
  ImageColumnKind imageKind_ = ImageColumnKind::kList;
  std::vector<int> leafColumns_;  // parquet leaf indices of the image and extra columns
  size_t imageLeaves_ = 0;        // how many of them belong to the image column
  bool streamablePixels_ = false;
};

}  // namespace sluice::io
