#include <iostream>

#include "cli/commands.h"
#include "io/storage.h"

namespace sluice::cli {

std::vector<CommandAdder>& commandRegistry() {
  static std::vector<CommandAdder> registry;
  return registry;
}

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
  for (const auto& addCommand : sluice::cli::commandRegistry()) addCommand(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 returns 0 for --help and --version; every real parse error is a usage error (exit 2).
    int code = app.exit(error);
    exitCode = code == 0 ? 0 : 2;
  }
  sluice::io::finalizeStorage();
  return exitCode;
}
