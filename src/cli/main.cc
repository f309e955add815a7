#include <iostream>

#include "cli/commands.h"

namespace sluice::cli {

int reportStatus(const Status& status) {
  if (status.ok()) return 0;
  std::cerr << "sluice: error: " << status.message() << "\n";
  return status.isUsageError() ? 2 : 1;
}

}  // namespace sluice::cli

int main(int argc, char** argv) {
  CLI::App app{"sluice: batch inference over image datasets stored in Parquet"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SLUICE_VERSION);
  int exitCode = 0;
  sluice::cli::addInfoCommand(app, exitCode);
  sluice::cli::addRunCommands(app, exitCode);
  sluice::cli::addDatagenCommand(app, exitCode);
  sluice::cli::addModelCommands(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 returns 0 for --help/--version; every real parse error is a usage error (exit 2).
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  return exitCode;
}
