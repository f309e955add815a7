#pragma once
// Backends kept between jobs in one process. A Spark task that runs the engine on file after file
// (sluice.spark.run_files, one Python worker reused for many tasks) would otherwise load the model,
// choose convolution plans and capture CUDA graphs again for every file: on a GPU that start-up is
// longer than predicting a file of a thousand images.

#include <cstdint>
#include <memory>
#include <string>

#include "backend/inference_backend.h"
#include "engine/pipeline.h"

namespace sluice::engine {

/// Hands out backends made by a factory and takes them back when a job releases them: a later
/// request with the same BackendOptions and the same model file (path, size, modification time)
/// gets an idle one back instead of a new one. It keeps one configuration at a time: a request for
/// another drops the idle backends of the others, so a process holds one model's device memory.
/// A backend whose batch failed, or that is released with a batch it cannot finish, is destroyed
/// instead of kept. All methods are thread-safe; backends may outlive the cache.
class BackendCache {
 public:
  explicit BackendCache(BackendFactory make);
  ~BackendCache();
  BackendCache(const BackendCache&) = delete;
  BackendCache& operator=(const BackendCache&) = delete;

  /// A factory for runJob whose backends come back to this cache when the job destroys them.
  BackendFactory factory();

  struct Counts {
    int64_t made = 0;    // backends created by the underlying factory
    int64_t reused = 0;  // requests answered with an idle backend
    int64_t idle = 0;    // backends waiting in the cache now
  };
  Counts counts() const;

  /// Destroys the idle backends (those in use are destroyed when released).
  void clear();

  /// What identifies a backend's configuration: every option and the model file's size and time.
  static std::string keyOf(const backend::BackendOptions& options);

  struct State;  // shared with the backends on loan, defined in the .cc

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sluice::engine
