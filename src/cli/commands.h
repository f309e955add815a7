#pragma once
// Each `sluice` subcommand lives in its own file under src/cli/ and registers itself with
// SLUICE_REGISTER_COMMAND(addFooCommand), where `void addFooCommand(CLI::App& root, int& exitCode)`
// adds the subcommand and a callback that stores the process exit code in `exitCode`:
// 0 the job finished, 1 the job failed, 2 usage or configuration error.
// (The files are compiled into the executable itself, so their static registrars always run.)

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

namespace sluice::cli {

using CommandAdder = std::function<void(CLI::App& root, int& exitCode)>;

/// The commands registered so far, in registration order.
std::vector<CommandAdder>& commandRegistry();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandAdder adder) { commandRegistry().push_back(std::move(adder)); }
};

/// The signal (SIGINT or SIGTERM) that stopped a job, or 0. main() re-raises it at exit.
int pendingStopSignal();

/// Prints `status` as one sentence on stderr and returns the exit code it maps to (0, 1 or 2).
int reportStatus(const Status& status);

/// Before the work: a result file (`flag` FILE) whose folder is missing or not writable, or that is a
/// folder, would otherwise fail only after all of it. Touches nothing.
Status checkWritableFile(const std::string& flag, const std::string& path);

/// Checks that an integer option is a whole number of at least `minimum`, with a message that says
/// so (CLI11's PositiveNumber prints a range of doubles up to 1.8e308 and calls "abc" out of range).
inline CLI::Validator wholeNumberAtLeast(int64_t minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        // Spaces around the number and a leading '+' are allowed, as CLI11's own conversion does.
        const size_t first = text.find_first_not_of(' '), last = text.find_last_not_of(' ');
        std::string_view digits = first == std::string::npos ? std::string_view() :
                                  std::string_view(text).substr(first, last - first + 1);
        if (digits.size() > 1 && digits[0] == '+') digits.remove_prefix(1);
        int64_t value = 0;
        const char* end = digits.data() + digits.size();
        auto [stop, error] = std::from_chars(digits.data(), end, value);
        if (error == std::errc::result_out_of_range) return "'" + text + "' is too large";
        if (error != std::errc() || stop != end) return "'" + text + "' is not a whole number";
        if (value < minimum) return "must be at least " + std::to_string(minimum) + ", got " + text;
        return "";
      },
      minimum == 1 ? "POSITIVE" : minimum == 0 ? "NONNEGATIVE" : ">=" + std::to_string(minimum));
}

/// Help of --cudnn-cache (run, predict, model-bench).
inline constexpr const char* kCudnnCacheHelp =
    "GPU, with --cudnn-algorithms timed: the file the algorithms chosen are kept in, so that later jobs on "
    "this kind of GPU start without timing them (default: $SLUICE_CACHE_DIR/cudnn-algorithms.tsv, else "
    "$XDG_CACHE_HOME/sluice/..., else ~/.cache/sluice/...; none: time them in every job, ./none for a file so "
    "named)";

/// Help of --cudnn-algorithms (run, predict, model-bench).
inline constexpr const char* kCudnnAlgorithmsHelp =
    "GPU: how each convolution's cuDNN algorithm is chosen: heuristic (the first of cuDNN's "
    "suggestions that runs, fused with bias/add/ReLU where cuDNN can) or timed (every one that runs, "
    "fused or followed by sluice's epilogue kernel, is timed at start-up, the fastest kept)";

}  // namespace sluice::cli

#define SLUICE_REGISTER_COMMAND(adder) \
  static ::sluice::cli::CommandRegistrar SLUICE_CONCAT(sluice_command_registrar_, __LINE__)(adder)
