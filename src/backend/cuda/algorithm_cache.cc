#include "backend/cuda/algorithm_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace sluice::backend::cuda {

namespace {

constexpr char kHeader[] =
    "# sluice: cuDNN algorithms chosen by --cudnn-algorithms timed; delete this file to time them again\n";

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

template <typename Integer>
bool parseInteger(const std::string& text, Integer& value) {
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end && !text.empty();
}

std::string signatureText(const std::vector<int64_t>& signature) {
  std::string text;
  for (size_t i = 0; i < signature.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(signature[i]);
  }
  return text;
}

/// One line's signature and choice, or nothing if it does not parse.
std::optional<std::pair<std::vector<int64_t>, CachedAlgorithm>> parseEntry(const std::vector<std::string>& fields) {
  if (fields.size() != 6) return std::nullopt;
  std::vector<int64_t> signature;
  for (const std::string& part : split(fields[1], ',')) {
    int64_t value = 0;
    if (!parseInteger(part, value)) return std::nullopt;
    signature.push_back(value);
  }
  CachedAlgorithm choice;
  int fused = 0;
  if (!parseInteger(fields[2], fused) || (fused != 0 && fused != 1) || !parseInteger(fields[3], choice.algorithm) ||
      !parseInteger(fields[4], choice.math) || !parseInteger(fields[5], choice.workspaceBytes) ||
      choice.workspaceBytes < 0) {
    return std::nullopt;
  }
  choice.fused = fused == 1;
  return std::make_pair(std::move(signature), choice);
}

}  // namespace

std::string algorithmCacheContext(const std::string& gpuName, int computeMajor, int computeMinor,
                                  int64_t cudnnVersion, const std::string& precision) {
  return gpuName + "|sm" + std::to_string(computeMajor) + std::to_string(computeMinor) + "|cuDNN " +
         std::to_string(cudnnVersion) + "|" + precision;
}

std::optional<AlgorithmCache> loadAlgorithmCache(bool timeAlgorithms, const std::string& path, const GpuInfo& gpu,
                                                 const std::string& precision) {
  if (!timeAlgorithms || path.empty()) return std::nullopt;
  return AlgorithmCache::Load(
      path, algorithmCacheContext(gpu.name, gpu.computeMajor, gpu.computeMinor, probeCuda().cudnnVersion, precision));
}

std::string saveAlgorithmCache(const std::optional<AlgorithmCache>& cache) {
  if (!cache) return "";
  Status saved = cache->save();
  return saved.ok() ? "" : ", " + saved.message();
}

AlgorithmCache AlgorithmCache::Load(std::string path, std::string context) {
  AlgorithmCache cache(std::move(path), std::move(context));
  std::ifstream in(cache.path_);
  std::string line;
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = split(line, '\t');
    if (fields.empty() || fields[0] != cache.context_) continue;
    if (auto entry = parseEntry(fields)) cache.entries_[entry->first] = entry->second;
  }
  return cache;
}

std::optional<CachedAlgorithm> AlgorithmCache::find(const std::vector<int64_t>& signature) {
  auto it = entries_.find(signature);
  if (it == entries_.end()) return std::nullopt;
  ++found_;
  return it->second;
}

void AlgorithmCache::put(const std::vector<int64_t>& signature, const CachedAlgorithm& choice) {
  entries_[signature] = choice;
}

Status AlgorithmCache::save() const {
  namespace fs = std::filesystem;
  auto failed = [&](const std::string& what, const std::string& reason) {
    return Status::IoError("cannot " + what + " the cuDNN algorithm cache " + path_ + " (" + reason + ")");
  };
  std::error_code error;
  const fs::path target(path_);
  if (target.has_parent_path() && !fs::is_directory(target.parent_path(), error)) {
    fs::create_directories(target.parent_path(), error);
    if (error) return failed("make the folder of", error.message());
  }
  // Saves take turns, by a lock on a file beside the cache, so that each merges what the one before
  // it wrote. Closing the file releases the lock.
  const std::string lockPath = path_ + ".lock";
  const int lock = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return failed("lock", std::generic_category().message(errno));
  struct CloseOnExit {
    int file;
    ~CloseOnExit() { ::close(file); }
  } closeLock{lock};
  while (flock(lock, LOCK_EX) != 0) {
    if (errno != EINTR) return failed("lock", std::generic_category().message(errno));
  }
  // Every entry the file holds now, but for the signatures of this context this cache has.
  std::ostringstream text;
  text << kHeader;
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      const std::vector<std::string> fields = split(line, '\t');
      const auto entry = parseEntry(fields);
      if (entry && (fields[0] != context_ || !entries_.count(entry->first))) text << line << '\n';
    }
  }
  for (const auto& [signature, choice] : entries_) {
    text << context_ << '\t' << signatureText(signature) << '\t' << (choice.fused ? 1 : 0) << '\t' << choice.algorithm
         << '\t' << choice.math << '\t' << choice.workspaceBytes << '\n';
  }
  // A temporary file of its own (mkstemp): backends on two GPUs of one process, or jobs on two
  // machines sharing a home folder, may save at the same moment.
  std::string temporary = path_ + ".tmp-XXXXXX";
  const int file = mkstemp(temporary.data());
  if (file < 0) return failed("write", std::generic_category().message(errno));
  const std::string content = text.str();
  int writeError = fchmod(file, 0644) == 0 ? 0 : errno;  // mkstemp's 0600 would hide it from other users' jobs
  for (size_t done = 0; writeError == 0 && done < content.size();) {
    const ssize_t written = ::write(file, content.data() + done, content.size() - done);
    if (written >= 0) {
      done += static_cast<size_t>(written);
    } else if (errno != EINTR) {
      writeError = errno;
    }
  }
  if (::close(file) != 0 && writeError == 0) writeError = errno;
  if (writeError != 0) {
    fs::remove(temporary, error);
    return failed("write", std::generic_category().message(writeError));
  }
  fs::rename(temporary, target, error);
  if (error) {
    const std::string reason = error.message();
    fs::remove(temporary, error);
    return failed("replace", reason);
  }
  return Status::OK();
}

}  // namespace sluice::backend::cuda
