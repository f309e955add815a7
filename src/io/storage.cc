#include "io/storage.h"

#include <arrow/filesystem/localfs.h>
#include <arrow/filesystem/s3fs.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "io/arrow_status.h"

namespace sluice::io {

namespace {

std::mutex s3Mutex;
bool s3Initialized = false;

Status ensureS3() {
  std::lock_guard lock(s3Mutex);
  if (s3Initialized) return Status::OK();
  arrow::fs::S3GlobalOptions global = arrow::fs::S3GlobalOptions::Defaults();
  global.log_level = arrow::fs::S3LogLevel::Fatal;
  SLUICE_RETURN_IF_ARROW_ERROR(arrow::fs::InitializeS3(global), "initializing S3 support");
  s3Initialized = true;
  return Status::OK();
}

Result<Location> resolveS3(const std::string& uri, const StorageOptions& options) {
  SLUICE_RETURN_IF_ERROR(ensureS3());
  std::string path = uri.substr(5);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.empty() || path.front() == '/') {
    return Status::InvalidArgument("'" + uri + "' is not an S3 URI of the form s3://bucket/prefix");
  }
  arrow::fs::S3Options s3 = arrow::fs::S3Options::Defaults();
  std::string endpoint = options.s3Endpoint;
  if (endpoint.empty()) {
    if (const char* fromEnvironment = std::getenv("AWS_ENDPOINT_URL")) endpoint = fromEnvironment;
  }
  if (!endpoint.empty()) {
    std::string scheme = "https";
    auto separator = endpoint.find("://");
    if (separator != std::string::npos) {
      scheme = endpoint.substr(0, separator);
      endpoint = endpoint.substr(separator + 3);
    }
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    s3.endpoint_override = endpoint;
    s3.scheme = scheme;
    s3.force_virtual_addressing = false;
  }
  const char* region = std::getenv("AWS_REGION");
  if (!region) region = std::getenv("AWS_DEFAULT_REGION");
  s3.region = region ? region : "us-east-1";
  // Fail within seconds when the endpoint is unreachable, but ride out brief hiccups.
  s3.connect_timeout = 5;
  s3.request_timeout = 60;
  s3.retry_strategy = arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(3);
  SLUICE_ASSIGN_OR_RETURN_ARROW(auto fileSystem, arrow::fs::S3FileSystem::Make(s3),
                                "connecting to S3 for " + uri);
  return Location{fileSystem, path, true};
}

}  // namespace

std::string Location::join(const std::string& relative) const {
  if (relative.empty()) return path;
  if (path.empty()) return relative;
  return path + "/" + relative;
}

Result<Location> resolveLocation(const std::string& uri, const StorageOptions& options) {
  if (uri.empty()) return Status::InvalidArgument("an empty path was given as a location");
  if (uri.rfind("s3://", 0) == 0) return resolveS3(uri, options);
  if (uri.find("://") != std::string::npos) {
    return Status::InvalidArgument("'" + uri + "' uses a scheme sluice does not read; use a local path or s3://bucket/prefix");
  }
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(uri, error);
  if (error) return Status::InvalidArgument("cannot resolve the path '" + uri + "': " + error.message());
  std::string path = absolute.lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return Location{std::make_shared<arrow::fs::LocalFileSystem>(), path, false};
}

void finalizeStorage() {
  std::lock_guard lock(s3Mutex);
  if (!s3Initialized) return;
  (void)arrow::fs::FinalizeS3();  // nothing useful can be done with a failure at exit
  s3Initialized = false;
}

}  // namespace sluice::io
