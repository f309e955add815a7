#include "engine/job_monitor.h"

namespace sluice::engine {

JobMonitor::JobMonitor(JobCallbacks callbacks, const std::atomic<bool>* stopRequested,
                       std::chrono::milliseconds tick)
    : callbacks_(std::move(callbacks)), stopRequested_(stopRequested), tick_(tick), start_(Clock::now()) {
  if (callbacks_.onProgress || stopRequested_) thread_ = std::thread([this] { loop(); });
}

JobMonitor::~JobMonitor() { stop(); }

double JobMonitor::seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void JobMonitor::enterPhase(JobPhase phase) {
  if (phase == JobPhase::kRunning) runningSince_ = Clock::now().time_since_epoch().count();
  phase_ = phase;
}

JobProgress JobMonitor::progress() const {
  const JobPhase phase = phase_.load();
  const auto now = Clock::now();
  double running = 0;
  if (phase == JobPhase::kRunning) {
    running = std::chrono::duration<double>(now - Clock::time_point(Clock::duration(runningSince_.load()))).count();
  }
  return {phase,
          filesInspected_.load(),
          filesTotal_.load(),
          imagesDone_.load(),
          imagesTotal_.load(),
          std::chrono::duration<double>(now - start_).count(),
          running};
}

void JobMonitor::note(const std::string& text) const {
  if (callbacks_.onNote) callbacks_.onNote(text);
}

void JobMonitor::onStop(std::function<void()> handler) {
  std::lock_guard lock(mutex_);
  stopHandler_ = std::move(handler);
}

void JobMonitor::reportNow() {
  std::lock_guard lock(mutex_);
  if (callbacks_.onProgress) callbacks_.onProgress(progress());
}

void JobMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void JobMonitor::loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, tick_, [&] { return stopping_; })) {
    if (stopRequested() && stopHandler_ && !stopHandled_) {
      stopHandled_ = true;
      stopHandler_();
    }
    if (callbacks_.onProgress) callbacks_.onProgress(progress());
  }
}

}  // namespace sluice::engine
