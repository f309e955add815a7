#pragma once
// Writes one output Parquet file so that it appears whole or not at all: locally under a temporary
// name renamed on commit; on S3 as a multipart upload that is completed on commit and aborted
// otherwise. A writer destroyed without commit() leaves nothing behind.

#include <arrow/io/interfaces.h>
#include <arrow/record_batch.h>
#include <parquet/arrow/writer.h>

#include <memory>
#include <string>

#include "io/storage.h"

namespace sluice::io {

class AtomicParquetWriter {
 public:
  /// Creates the parent folder if needed and opens the temporary file (or upload) for `path`.
  static Result<std::unique_ptr<AtomicParquetWriter>> Open(const Location& location, const std::string& path,
                                                          std::shared_ptr<arrow::Schema> schema);
  ~AtomicParquetWriter();
  AtomicParquetWriter(const AtomicParquetWriter&) = delete;
  AtomicParquetWriter& operator=(const AtomicParquetWriter&) = delete;

  /// Appends rows as one row group. Called from one thread at a time.
  Status write(const arrow::RecordBatch& batch);
  /// Finishes the file and makes it visible under its final name.
  Status commit();
  /// Discards everything written; the final name is left untouched. Safe to call twice.
  void abort();

  std::string uri() const { return location_.uriOf(path_); }

 private:
  AtomicParquetWriter() = default;

  Location location_;
  std::string path_;
  std::string temporaryPath_;
  std::shared_ptr<arrow::io::OutputStream> stream_;
  std::unique_ptr<parquet::arrow::FileWriter> writer_;
  bool finished_ = false;
  bool wroteRows_ = false;  // a row group is open with rows in it
};

}  // namespace sluice::io
