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

std::string ProgressPrinter::describe(const engine::JobProgress& progress) {
  char text[256];
  const std::string elapsed = formatDuration(progress.seconds);
  switch (progress.phase) {
    case engine::JobPhase::kPlanning:
      if (progress.filesTotal == 0) {
        std::snprintf(text, sizeof text, "listing the input | elapsed %s", elapsed.c_str());
      } else {
        std::snprintf(text, sizeof text, "reading input footers: %lld/%lld files | elapsed %s",
                      static_cast<long long>(progress.filesInspected), static_cast<long long>(progress.filesTotal),
                      elapsed.c_str());
      }
      return text;
    case engine::JobPhase::kStarting:
      std::snprintf(text, sizeof text, "starting (model, workers): %lld images to do | elapsed %s",
                    static_cast<long long>(progress.imagesTotal), elapsed.c_str());
      return text;
    case engine::JobPhase::kRunning:
      break;
  }
  // The rate since images started flowing: start-up would make the first minutes' ETA too long.
  const double running = progress.runningSeconds;
  const int64_t done = progress.imagesDone, total = progress.imagesTotal;
  const double rate = running > 0 ? done / running : 0;
  const std::string eta = rate > 0 && done < total ? formatDuration((total - done) / rate) : "-";
  const double percent = total > 0 ? 100.0 * done / total : 100.0;
  std::snprintf(text, sizeof text, "%lld/%lld images (%.1f%%) | %.1f images/s | elapsed %s | ETA %s",
                static_cast<long long>(done), static_cast<long long>(total), percent, rate, elapsed.c_str(),
                eta.c_str());
  return text;
}

void ProgressPrinter::update(const engine::JobProgress& progress) {
  std::lock_guard lock(mutex_);
  if (!enabled_) return;
  const bool finished = progress.phase == engine::JobPhase::kRunning && progress.imagesDone >= progress.imagesTotal;
  // Listing, reading footers, starting, running: a log gets a line as each begins.
  const int step = progress.phase == engine::JobPhase::kPlanning ? (progress.filesTotal > 0 ? 1 : 0)
                   : progress.phase == engine::JobPhase::kStarting ? 2
                                                                    : 3;
  const bool newPhase = step != lastStep_;
  lastStep_ = step;
  const std::string line = describe(progress);
  if (!terminal_ && (finished ? finishedPrinted_ : progress.seconds - lastPrinted_ < 5.0 && !newPhase)) return;
  finishedPrinted_ = finished;
  lastPrinted_ = progress.seconds;
  std::fprintf(stderr, "%s[sluice] %s%s", terminal_ ? "\r\033[K" : "", line.c_str(), terminal_ ? "" : "\n");
  std::fflush(stderr);
  drawn_ = terminal_;
}

void ProgressPrinter::clearLine() {
  if (drawn_) std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

void ProgressPrinter::note(const std::string& text) {
  std::lock_guard lock(mutex_);
  clearLine();  // the next update draws the progress line again
  std::fprintf(stderr, "sluice: note: %s\n", text.c_str());
  std::fflush(stderr);
}

void ProgressPrinter::finish() {
  std::lock_guard lock(mutex_);
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

}  // namespace sluice::cli
