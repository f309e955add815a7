#pragma once
// Progress on stderr: a line rewritten in place on a terminal, or a line every few seconds (and at
// each change of phase) when stderr is a file or pipe (logs stay readable).

#include <cstdint>
#include <mutex>
#include <string>

#include "engine/job_monitor.h"

namespace sluice::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled);
  /// Called from the engine's monitor thread.
  void update(const engine::JobProgress& progress);
  /// "sluice: note: ..." on a line of its own, whether progress is shown or not.
  void note(const std::string& text);
  /// Ends the in-place line, if one was drawn.
  void finish();

  /// The line for one state of the job, without decoration.
  static std::string describe(const engine::JobProgress& progress);

 private:
  void clearLine();

  std::mutex mutex_;  // the monitor's thread and the job's thread both print
  bool enabled_;
  bool terminal_;
  bool drawn_ = false;
  double lastPrinted_ = -1e9;
  bool finishedPrinted_ = false;  // a log gets the last line once (the monitor's tick and the job's end both report it)
  int lastStep_ = -1;
};

/// "1h02m", "3m20s", "12s".
std::string formatDuration(double seconds);

}  // namespace sluice::cli
