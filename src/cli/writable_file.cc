#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"

namespace sluice::cli {

Status checkWritableFile(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) {
    return Status::InvalidArgument(flag + " " + path + " is a folder; give a file name");
  }
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (!fs::is_directory(folder, error)) {
    return Status::InvalidArgument(flag + " " + path + ": the folder " + folder.string() + " does not exist");
  }
  if (access(folder.c_str(), W_OK) != 0) {
    return Status::InvalidArgument(flag + " " + path + ": the folder " + folder.string() + " is not writable (" +
                                   std::strerror(errno) + ")");
  }
  return Status::OK();
}

}  // namespace sluice::cli
