#include "io/input_listing.h"

#include <fnmatch.h>

#include <algorithm>

#include "io/arrow_status.h"

namespace sluice::io {

namespace {

bool isHidden(const std::string& relativePath) {
  size_t start = 0;
  while (start < relativePath.size()) {
    size_t end = relativePath.find('/', start);
    if (end == std::string::npos) end = relativePath.size();
    char first = relativePath[start];
    if (first == '.' || first == '_') return true;
    start = end + 1;
  }
  return false;
}

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string baseName(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<std::vector<InputFile>> listInputFiles(const Location& input) {
  auto& fs = *input.fileSystem;
  std::vector<InputFile> files;
  std::string name = baseName(input.path);
  bool isGlob = name.find_first_of("*?[") != std::string::npos;

  if (isGlob) {
    std::string directory = input.path.substr(0, input.path.size() - name.size());
    while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
    arrow::fs::FileSelector selector;
    selector.base_dir = directory;
    SLUICE_ASSIGN_OR_RETURN_ARROW(auto infos, fs.GetFileInfo(selector), "listing " + input.uriOf(directory));
    for (const auto& info : infos) {
      if (!info.IsFile()) continue;
      std::string fileName = baseName(info.path());
      if (fnmatch(name.c_str(), fileName.c_str(), 0) == 0) files.push_back({info.path(), fileName, info.size()});
    }
  } else {
    SLUICE_ASSIGN_OR_RETURN_ARROW(auto info, fs.GetFileInfo(input.path), "looking up " + input.uri());
    if (info.IsFile()) {
      files.push_back({info.path(), baseName(info.path()), info.size()});
    } else if (info.IsDirectory() || (input.isS3 && info.type() == arrow::fs::FileType::NotFound)) {
      arrow::fs::FileSelector selector;
      selector.base_dir = input.path;
      selector.recursive = true;
      selector.allow_not_found = input.isS3;
      SLUICE_ASSIGN_OR_RETURN_ARROW(auto infos, fs.GetFileInfo(selector), "listing " + input.uri());
      for (const auto& entry : infos) {
        if (!entry.IsFile() || !endsWith(entry.path(), ".parquet")) continue;
        std::string relative = entry.path().substr(input.path.size() + 1);
        if (!isHidden(relative)) files.push_back({entry.path(), relative, entry.size()});
      }
    } else {
      return Status::InvalidArgument("input " + input.uri() + " does not exist");
    }
  }
  if (files.empty()) {
    return Status::InvalidArgument("no Parquet files found at " + input.uri() +
                                   " (expected a .parquet file, a folder or S3 prefix holding *.parquet files, or a glob)");
  }
  std::sort(files.begin(), files.end(), [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  return files;
}

}  // namespace sluice::io
