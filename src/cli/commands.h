#pragma once
// Each `sluice` subcommand lives in its own file and registers itself on the root app through one
// of these functions. A command's callback stores its process exit code in `exitCode`:
// 0 the job finished, 1 the job failed, 2 usage or configuration error.

#include <CLI/CLI.hpp>

#include "sluice/status.h"

namespace sluice::cli {

void addInfoCommand(CLI::App& root, int& exitCode);
void addRunCommands(CLI::App& root, int& exitCode);       // run, preprocess, predict
void addDatagenCommand(CLI::App& root, int& exitCode);
void addModelCommands(CLI::App& root, int& exitCode);     // model-run, model-bench

/// Prints `status` as one sentence on stderr and returns the exit code it maps to (0, 1 or 2).
int reportStatus(const Status& status);

}  // namespace sluice::cli
