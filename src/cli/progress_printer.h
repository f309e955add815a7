#pragma once
// Progress on stderr: a line rewritten in place on a terminal, or a line every few seconds when
// stderr is a file or pipe (logs stay readable).

#include <cstdint>
#include <string>

namespace sluice::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled);
  /// Called from the engine's monitor thread.
  void update(int64_t done, int64_t total, double seconds);
  /// Ends the in-place line, if one was drawn.
  void finish();

 private:
  bool enabled_;
  bool terminal_;
  bool drawn_ = false;
  double lastPrinted_ = -1e9;
};

/// "1h02m", "3m20s", "12s".
std::string formatDuration(double seconds);

}  // namespace sluice::cli
