#pragma once
// Where data lives: a local directory or file, or an S3 prefix, behind Arrow's FileSystem.

#include <arrow/filesystem/filesystem.h>

#include <memory>
#include <string>

#include "sluice/status.h"

namespace sluice::io {

struct StorageOptions {
  /// S3 endpoint, e.g. "http://127.0.0.1:9000". Empty: $AWS_ENDPOINT_URL, else AWS itself.
  std::string s3Endpoint;
};

/// A resolved location: a filesystem and a path on it.
struct Location {
  std::shared_ptr<arrow::fs::FileSystem> fileSystem;
  std::string path;     // the path on fileSystem ("bucket/prefix" on S3, absolute path locally)
  bool isS3 = false;

  /// The URI a user would write for `fsPath` on this location's filesystem.
  std::string uriOf(const std::string& fsPath) const { return isS3 ? "s3://" + fsPath : fsPath; }
  std::string uri() const { return uriOf(path); }
  /// `path` joined with a relative path.
  std::string join(const std::string& relative) const;
};

/// Resolves "s3://bucket/prefix" or a local path. S3 credentials come from the standard AWS
/// environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION).
Result<Location> resolveLocation(const std::string& uri, const StorageOptions& options);

/// Releases global storage state (the AWS SDK). Call once, at the end of main.
void finalizeStorage();

}  // namespace sluice::io
