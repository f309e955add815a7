#include "cli/progress_printer.h"

#include <unistd.h>

#include <cstdio>

namespace sluice::cli {

std::string formatDuration(double seconds) {
  char text[32];
  long total = static_cast<long>(seconds + 0.5);
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm", total / 3600, (total % 3600) / 60);
  } else if (total >= 60) {
    std::snprintf(text, sizeof text, "%ldm%02lds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lds", total);
  }
  return text;
}

ProgressPrinter::ProgressPrinter(bool enabled) : enabled_(enabled), terminal_(isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::update(int64_t done, int64_t total, double seconds) {
  if (!enabled_) return;
  if (!terminal_ && seconds - lastPrinted_ < 5.0 && done < total) return;
  lastPrinted_ = seconds;
  double rate = seconds > 0 ? done / seconds : 0;
  std::string eta = rate > 0 && done < total ? formatDuration((total - done) / rate) : "-";
  double percent = total > 0 ? 100.0 * done / total : 100.0;
  std::fprintf(stderr, "%s[sluice] %lld/%lld images (%.1f%%) | %.1f images/s | elapsed %s | ETA %s%s",
               terminal_ ? "\r\033[K" : "", static_cast<long long>(done), static_cast<long long>(total), percent,
               rate, formatDuration(seconds).c_str(), eta.c_str(), terminal_ ? "" : "\n");
  std::fflush(stderr);
  drawn_ = terminal_;
}

void ProgressPrinter::finish() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace sluice::cli
