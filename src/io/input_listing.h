#pragma once
// Turns the user's --input (a directory, a file, a glob, or an S3 prefix) into the list of Parquet
// files to read, in a stable (sorted) order.

#include <string>
#include <vector>

#include "io/storage.h"

namespace sluice::io {

struct InputFile {
  std::string path;          // path on the location's filesystem
  std::string relativePath;  // path below the input root; the output file gets the same one
  int64_t sizeBytes = -1;
};

/// Lists the Parquet files named by `input`:
/// - a file: that file;
/// - a directory or S3 prefix: every `*.parquet` file below it, recursively, skipping names that
///   start with '.' or '_' (Spark's _SUCCESS, temporary files);
/// - a glob in the last path component ("data/part-*.parquet"): the matching files in that folder.
/// Finding nothing is an error that names the input.
Result<std::vector<InputFile>> listInputFiles(const Location& input);

}  // namespace sluice::io
