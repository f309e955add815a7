#pragma once
// Each `sluice` subcommand lives in its own file under src/cli/ and registers itself with
// SLUICE_REGISTER_COMMAND(addFooCommand), where `void addFooCommand(CLI::App& root, int& exitCode)`
// adds the subcommand and a callback that stores the process exit code in `exitCode`:
// 0 the job finished, 1 the job failed, 2 usage or configuration error.
// (The files are compiled into the executable itself, so their static registrars always run.)

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

#include "sluice/status.h"

namespace sluice::cli {

using CommandAdder = std::function<void(CLI::App& root, int& exitCode)>;

/// The commands registered so far, in registration order.
std::vector<CommandAdder>& commandRegistry();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandAdder adder) { commandRegistry().push_back(std::move(adder)); }
};

/// Prints `status` as one sentence on stderr and returns the exit code it maps to (0, 1 or 2).
int reportStatus(const Status& status);

/// Help of --cudnn-algorithms (run, predict, model-bench).
inline constexpr const char* kCudnnAlgorithmsHelp =
    "GPU: how each convolution's cuDNN algorithm is chosen: heuristic (the first of cuDNN's "
    "suggestions that runs) or timed (every one that runs is timed at start-up, the fastest kept)";

}  // namespace sluice::cli

#define SLUICE_REGISTER_COMMAND(adder) \
  static ::sluice::cli::CommandRegistrar SLUICE_CONCAT(sluice_command_registrar_, __LINE__)(adder)
