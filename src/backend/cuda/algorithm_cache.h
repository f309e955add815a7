#pragma once
// The convolution algorithms `--cudnn-algorithms timed` chose, kept in a file between jobs so that
// only the first job on a kind of GPU pays for timing every candidate: later ones start as fast as
// the heuristic mode. Entries are keyed by a context (GPU model, compute capability, cuDNN version,
// precision) and a convolution's signature (shapes, window, fusion). A cached choice is still run
// once before use, and one that fails is timed again. One text line per entry:
//   context <TAB> signature (comma-separated) <TAB> fused <TAB> algorithm <TAB> math type <TAB> workspace bytes
// No CUDA headers: algorithms and math types are cuDNN's enum values as integers.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/cuda/cuda_devices.h"
#include "sluice/status.h"

namespace sluice::backend::cuda {

struct CachedAlgorithm {
  bool fused = false;  // the fused bias/add/ReLU call, else a plain convolution and sluice's epilogue
  int algorithm = 0;   // cudnnConvolutionFwdAlgo_t
  int math = 0;        // cudnnMathType_t
  int64_t workspaceBytes = 0;  // for people reading the file: a choice takes the workspace cuDNN says now

  bool operator==(const CachedAlgorithm&) const = default;
};

/// One job's view of the file: loaded before its executors are made, saved after. Not thread-safe:
/// one owner at a time (each backend loads its own).
class AlgorithmCache {
 public:
  /// The entries of the file at `path` made in `context`. A missing file is an empty cache, and a
  /// line that does not parse is skipped: a damaged cache costs a new timing, never the job.
  static AlgorithmCache Load(std::string path, std::string context);

  /// The choice cached for `signature` in this context, if any. found() counts the lookups that
  /// found one, whether or not the caller could use it.
  std::optional<CachedAlgorithm> find(const std::vector<int64_t>& signature);
  void put(const std::vector<int64_t>& signature, const CachedAlgorithm& choice);

  /// Writes this cache's entries and every other entry the file holds by then (another job may have
  /// added some meanwhile, e.g. for another batch size) to a temporary file renamed over `path`,
  /// creating its folder: a job never reads half a file. Saves take turns (flock on `path`.lock, a
  /// file left beside the cache), so two saving at once keep both's entries; for a signature both
  /// have, the later save's choice.
  Status save() const;

  const std::string& path() const { return path_; }
  int found() const { return found_; }
  size_t size() const { return entries_.size(); }

 private:
  AlgorithmCache(std::string path, std::string context) : path_(std::move(path)), context_(std::move(context)) {}

  std::string path_;
  std::string context_;
  std::map<std::vector<int64_t>, CachedAlgorithm> entries_;
  int found_ = 0;
};

/// The context of a cache entry: "NVIDIA H200|sm90|cuDNN 91900|fp16".
std::string algorithmCacheContext(const std::string& gpuName, int computeMajor, int computeMinor,
                                  int64_t cudnnVersion, const std::string& precision);

/// The cache an executor on `gpu` (with this process' cuDNN) reads and fills when it times its
/// algorithms at `precision`; none when it does not time them or there is no `path`.
std::optional<AlgorithmCache> loadAlgorithmCache(bool timeAlgorithms, const std::string& path, const GpuInfo& gpu,
                                                 const std::string& precision);
/// Saves `cache` if there is one. "" when it was saved (or there is none), else ", why not": for the
/// description of the device, since a cache that cannot be written costs a new timing, not the job.
std::string saveAlgorithmCache(const std::optional<AlgorithmCache>& cache);

}  // namespace sluice::backend::cuda
