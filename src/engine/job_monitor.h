#pragma once
// What a running job tells the people watching it: where it is (planning, starting, running), how
// far it got, and notes worth reading before it ends. One monitor per job; its thread calls the
// progress callback about twice a second from the job's start, planning included, and watches for a
// stop request.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sluice::engine {

enum class JobPhase {
  kPlanning,  // listing the input, reading every file's footer
  kStarting,  // loading the model, choosing algorithms, starting the workers
  kRunning,   // images flowing
};

struct JobProgress {
  JobPhase phase = JobPhase::kPlanning;
  int64_t filesInspected = 0;  // planning: input files whose footer has been read
  int64_t filesTotal = 0;      // planning: input files listed; 0 while still listing
  int64_t imagesDone = 0;      // rows predicted (or written, when preprocessing)
  int64_t imagesTotal = 0;
  double seconds = 0;          // since the job started
  double runningSeconds = 0;   // since images started flowing (0 before)
};

/// Called from the monitor's thread about twice a second, and once at the end of a job that succeeded.
using ProgressCallback = std::function<void(const JobProgress&)>;
/// A sentence for people, said once while the job runs (e.g. that the output folder holds other files).
using NoteCallback = std::function<void(const std::string& note)>;

struct JobCallbacks {
  ProgressCallback onProgress;
  NoteCallback onNote;
};

class JobMonitor {
 public:
  using Clock = std::chrono::steady_clock;

  /// `stopRequested` (may be null) is polled with each tick; once it is true, `onStop` runs (once).
  JobMonitor(JobCallbacks callbacks, const std::atomic<bool>* stopRequested,
             std::chrono::milliseconds tick = std::chrono::milliseconds(500));
  ~JobMonitor();
  JobMonitor(const JobMonitor&) = delete;
  JobMonitor& operator=(const JobMonitor&) = delete;

  Clock::time_point start() const { return start_; }
  double seconds() const;

  void enterPhase(JobPhase phase);
  void setFilesTotal(int64_t files) { filesTotal_ = files; }
  void fileInspected() { ++filesInspected_; }
  void setImagesTotal(int64_t images) { imagesTotal_ = images; }
  void imagesDone(int64_t images) { imagesDone_ += images; }
  JobProgress progress() const;

  bool wantsNotes() const { return static_cast<bool>(callbacks_.onNote); }
  void note(const std::string& text) const;

  bool stopRequested() const { return stopRequested_ && stopRequested_->load(); }
  /// What to do when a stop is requested while the job runs; replaces any earlier handler. Runs on
  /// the monitor's thread.
  void onStop(std::function<void()> handler);
  /// Calls the progress callback once more, from the calling thread (the end of a job that succeeded).
  void reportNow();
  /// Stops the thread; no callback runs after this returns. Called by the destructor too.
  void stop();

 private:
  void loop();

  JobCallbacks callbacks_;
  const std::atomic<bool>* stopRequested_;
  const std::chrono::milliseconds tick_;
  const Clock::time_point start_;
  std::atomic<JobPhase> phase_{JobPhase::kPlanning};
  std::atomic<Clock::rep> runningSince_{0};  // ticks since the epoch of Clock, once running
  std::atomic<int64_t> filesInspected_{0};
  std::atomic<int64_t> filesTotal_{0};
  std::atomic<int64_t> imagesDone_{0};
  std::atomic<int64_t> imagesTotal_{0};

  std::mutex mutex_;  // guards stopping_, stopHandler_ and the callbacks' calls
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopHandled_ = false;
  std::function<void()> stopHandler_;
  std::thread thread_;
};

}  // namespace sluice::engine
