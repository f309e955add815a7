#include "engine/job_monitor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice::engine {
namespace {

using namespace std::chrono_literals;

/// Collects what the monitor reports, for a test thread to wait on.
class Recorder {
 public:
  JobCallbacks callbacks() {
    return {[this](const JobProgress& progress) {
              std::lock_guard lock(mutex_);
              seen_.push_back(progress);
            },
            [this](const std::string& note) {
              std::lock_guard lock(mutex_);
              notes_.push_back(note);
            }};
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }
  JobProgress last() {
    std::lock_guard lock(mutex_);
    return seen_.back();
  }
  std::vector<std::string> notes() {
    std::lock_guard lock(mutex_);
    return notes_;
  }
  /// Waits until a report satisfies `predicate`; false after 5 s.
  template <typename Predicate>
  bool waitFor(Predicate predicate) {
    for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
      {
        std::lock_guard lock(mutex_);
        if (!seen_.empty() && predicate(seen_.back())) return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

 private:
  std::mutex mutex_;
  std::vector<JobProgress> seen_;
  std::vector<std::string> notes_;
};

TEST(JobMonitorTest, TicksReportEachPhaseWithItsCounts) {
  Recorder recorder;
  JobMonitor monitor(recorder.callbacks(), nullptr, 2ms);
  ASSERT_TRUE(recorder.waitFor([](const JobProgress& p) { return p.phase == JobPhase::kPlanning; }));
  EXPECT_EQ(recorder.last().filesTotal, 0);  // still listing

  monitor.setFilesTotal(3);
  monitor.fileInspected();
  monitor.fileInspected();
  ASSERT_TRUE(recorder.waitFor([](const JobProgress& p) { return p.filesInspected == 2; }));
  EXPECT_EQ(recorder.last().filesTotal, 3);

  monitor.setImagesTotal(10);
  monitor.enterPhase(JobPhase::kStarting);
  ASSERT_TRUE(recorder.waitFor([](const JobProgress& p) { return p.phase == JobPhase::kStarting; }));
  EXPECT_EQ(recorder.last().runningSeconds, 0);

  monitor.enterPhase(JobPhase::kRunning);
  monitor.imagesDone(4);
  monitor.imagesDone(3);
  ASSERT_TRUE(recorder.waitFor([](const JobProgress& p) { return p.imagesDone == 7; }));
  JobProgress running = recorder.last();
  EXPECT_EQ(running.phase, JobPhase::kRunning);
  EXPECT_EQ(running.imagesTotal, 10);
  EXPECT_GE(running.runningSeconds, 0);
  EXPECT_LE(running.runningSeconds, running.seconds);
}

TEST(JobMonitorTest, NothingIsReportedAfterStopExceptReportNow) {
  Recorder recorder;
  JobMonitor monitor(recorder.callbacks(), nullptr, 1ms);
  ASSERT_TRUE(recorder.waitFor([](const JobProgress&) { return true; }));
  monitor.stop();
  const size_t stopped = recorder.count();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(recorder.count(), stopped);
  monitor.reportNow();
  EXPECT_EQ(recorder.count(), stopped + 1);
}

TEST(JobMonitorTest, AStopRequestRunsTheHandlerOnceAndOnlyOnceOneIsSet) {
  std::atomic<bool> stop{false};
  std::atomic<int> handled{0};
  JobMonitor monitor({}, &stop, 1ms);
  EXPECT_FALSE(monitor.stopRequested());
  stop = true;
  EXPECT_TRUE(monitor.stopRequested());  // planning polls this; no handler yet
  std::this_thread::sleep_for(10ms);
  monitor.onStop([&] { ++handled; });
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       handled == 0 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(20ms);  // many more ticks
  EXPECT_EQ(handled.load(), 1);
}

TEST(JobMonitorTest, NotesGoToTheirCallbackAndAreOptional) {
  Recorder recorder;
  JobMonitor listened(recorder.callbacks(), nullptr);
  EXPECT_TRUE(listened.wantsNotes());
  listened.note("the output folder holds other files");
  EXPECT_EQ(recorder.notes(), std::vector<std::string>{"the output folder holds other files"});

  JobMonitor silent({}, nullptr);
  EXPECT_FALSE(silent.wantsNotes());
  silent.note("nobody hears this");  // no callback: nothing happens
}

}  // namespace
}  // namespace sluice::engine
