#pragma once
// Per-stage time accounting: every stage records how long its workers were busy and how long they
// were blocked waiting for input (starved) or for room downstream (backpressure), so the report
// can name the bottleneck.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace sluice {

inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Time totals of one worker; each worker owns one and adds to it without locking.
struct WorkerTimes {
  double busySeconds = 0;
  double waitingForInputSeconds = 0;
  double waitingForOutputSeconds = 0;
};

/// Totals of one stage, summed over its workers. Thread-safe.
class StageStats {
 public:
  StageStats(std::string name, int workers) : name_(std::move(name)), workers_(workers) {}

  /// Called by each worker once, when it finishes.
  void add(const WorkerTimes& times) {
    std::lock_guard lock(mutex_);
    totals_.busySeconds += times.busySeconds;
    totals_.waitingForInputSeconds += times.waitingForInputSeconds;
    totals_.waitingForOutputSeconds += times.waitingForOutputSeconds;
  }

  const std::string& name() const { return name_; }
  int workers() const { return workers_; }
  WorkerTimes totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
  }
  /// Busy time divided by workers: the stage's share of the wall time it kept its workers busy.
  double busySecondsPerWorker() const { return totals().busySeconds / std::max(1, workers_); }

 private:
  std::string name_;
  int workers_;
  mutable std::mutex mutex_;
  WorkerTimes totals_;
};

/// Measures one span of work and adds it to a counter when it ends.
class ScopedTimer {
 public:
  explicit ScopedTimer(double& target) : target_(target), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() { target_ += secondsSince(start_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  double& target_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace sluice
