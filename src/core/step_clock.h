#pragma once
// Times the steps of a sequence (a backend's start-up: load the model, choose algorithms, capture
// graphs), each from the end of the one before, so a report can say where the seconds went.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

/// Seconds per step, in the order the steps ran.
using StepSeconds = std::vector<std::pair<std::string, double>>;

class StepClock {
 public:
  explicit StepClock(StepSeconds& steps) : steps_(steps), last_(std::chrono::steady_clock::now()) {}

  /// Records the time since the last step ended (or since construction) as step `name`.
  void step(std::string name) {
    const auto now = std::chrono::steady_clock::now();
    steps_.emplace_back(std::move(name), std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  StepSeconds& steps_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace sluice
