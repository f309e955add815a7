#include "engine/backend_cache.h"

#include <filesystem>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

namespace sluice::engine {

struct BackendCache::State {
  explicit State(BackendFactory makeBackend) : make(std::move(makeBackend)) {}

  const BackendFactory make;
  mutable std::mutex mutex;
  std::string currentKey;  // the configuration last asked for; only its backends are kept
  std::vector<std::pair<std::string, std::unique_ptr<backend::InferenceBackend>>> idle;
  int64_t made = 0;
  int64_t reused = 0;
  bool closed = false;  // the cache is gone: released backends are destroyed

  // Takes back a released backend, or hands it back to be destroyed (outside the lock).
  std::unique_ptr<backend::InferenceBackend> release(std::string key,
                                                     std::unique_ptr<backend::InferenceBackend> backend) {
    std::lock_guard lock(mutex);
    if (closed || key != currentKey) return backend;
    idle.emplace_back(std::move(key), std::move(backend));
    return nullptr;
  }
};

namespace {

/// A backend on loan from the cache: forwards every call, remembers which slots hold a batch not
/// yet waited for, and on destruction returns the backend to the cache if it is clean.
class LeasedBackend : public backend::InferenceBackend {
 public:
  LeasedBackend(std::shared_ptr<BackendCache::State> cache, std::string key,
                std::unique_ptr<backend::InferenceBackend> backend, bool reused)
      : cache_(std::move(cache)),
        key_(std::move(key)),
        backend_(std::move(backend)),
        pending_(static_cast<size_t>(backend_->slots()), false),
        reused_(reused) {}

  ~LeasedBackend() override {
    // A job that failed may leave batches in flight: finish them so the next job starts clean.
    for (size_t slot = 0; slot < pending_.size() && !broken_; ++slot) {
      if (pending_[slot] && !backend_->wait(static_cast<int>(slot)).ok()) broken_ = true;
    }
    if (!broken_) backend_ = cache_->release(key_, std::move(backend_));
  }

  int slots() const override { return backend_->slots(); }
  uint8_t* inputSlot(int slot) override { return backend_->inputSlot(slot); }
  Status launch(int slot, int64_t count) override {
    Status status = backend_->launch(slot, count);
    if (status.ok()) {
      pending_[slot] = true;
    } else {
      broken_ = true;
    }
    return status;
  }
  Result<backend::BatchOutputs> wait(int slot) override {
    auto outputs = backend_->wait(slot);
    pending_[slot] = false;
    if (!outputs.ok()) broken_ = true;
    return outputs;
  }
  int64_t numClasses() const override { return backend_->numClasses(); }
  int topk() const override { return backend_->topk(); }
  int64_t memoryBytes() const override { return backend_->memoryBytes(); }
  std::string deviceName() const override { return backend_->deviceName(); }
  // A reused backend's start-up was an earlier job's.
  StepSeconds startupSteps() const override {
    return reused_ ? StepSeconds{{"reused from an earlier job", 0.0}} : backend_->startupSteps();
  }

 private:
  std::shared_ptr<BackendCache::State> cache_;
  std::string key_;
  std::unique_ptr<backend::InferenceBackend> backend_;
  std::vector<bool> pending_;  // per slot: launched and not yet waited for
  bool broken_ = false;        // a call failed: the backend is not trusted again
  const bool reused_;          // came from the cache rather than the factory
};

}  // namespace

BackendCache::BackendCache(BackendFactory make) : state_(std::make_shared<State>(std::move(make))) {}

BackendCache::~BackendCache() {
  {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
  }
  clear();
}

std::string BackendCache::keyOf(const backend::BackendOptions& options) {
  std::error_code error;
  const auto size = std::filesystem::file_size(options.modelPath, error);
  const auto modified = std::filesystem::last_write_time(options.modelPath, error);
  std::ostringstream key;
  key << options.modelPath << '\n'
      << (error ? -1 : static_cast<int64_t>(size)) << ' ' << (error ? 0 : modified.time_since_epoch().count()) << ' '
      << options.device << ' ' << options.deviceIndex << ' ' << options.batchSize << ' ' << options.cropHeight << ' '
      << options.cropWidth << ' ' << static_cast<int>(options.normalization) << ' '
      << static_cast<int>(options.precision) << ' ' << options.topk << ' ' << options.returnLogits << ' '
      << options.threads << ' ' << options.timeConvAlgorithms << '\n'
      << options.algorithmCachePath;
  return key.str();
}

BackendFactory BackendCache::factory() {
  return [state = state_](const backend::BackendOptions& options)
             -> Result<std::unique_ptr<backend::InferenceBackend>> {
    std::string key = keyOf(options);
    std::unique_ptr<backend::InferenceBackend> backend;
    std::vector<std::unique_ptr<backend::InferenceBackend>> dropped;  // destroyed outside the lock
    {
      std::lock_guard lock(state->mutex);
      if (key != state->currentKey) {
        for (auto& [idleKey, idleBackend] : state->idle) dropped.push_back(std::move(idleBackend));
        state->idle.clear();
        state->currentKey = key;
      }
      for (auto it = state->idle.begin(); it != state->idle.end(); ++it) {
        if (it->first == key) {
          backend = std::move(it->second);
          state->idle.erase(it);
          ++state->reused;
          break;
        }
      }
    }
    dropped.clear();
    const bool reused = backend != nullptr;
    if (!backend) {
      // Made outside the lock: several workers' backends load in parallel.
      SLUICE_ASSIGN_OR_RETURN(backend, state->make(options));
      std::lock_guard lock(state->mutex);
      ++state->made;
    }
    return std::unique_ptr<backend::InferenceBackend>(
        std::make_unique<LeasedBackend>(state, std::move(key), std::move(backend), reused));
  };
}

BackendCache::Counts BackendCache::counts() const {
  std::lock_guard lock(state_->mutex);
  return {.made = state_->made, .reused = state_->reused, .idle = static_cast<int64_t>(state_->idle.size())};
}

void BackendCache::clear() {
  std::vector<std::pair<std::string, std::unique_ptr<backend::InferenceBackend>>> dropped;
  {
    std::lock_guard lock(state_->mutex);
    dropped.swap(state_->idle);
  }
}

}  // namespace sluice::engine
