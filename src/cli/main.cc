#include <csignal>
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

namespace {

/// What CLI11 would report after a less useful message: it checks for a subcommand and for
/// required options before it looks at names it does not know, so `sluice bogus` said "A subcommand
/// is required" and `run --inptu x` said "--input is required". Returns "" when every name is known.
std::string unknownName(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return "";
  const CLI::App* command = nullptr;
  for (const CLI::App* candidate : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (candidate->get_name() == argv[1]) command = candidate;
  }
  if (!command) {
    std::string names;
    for (const CLI::App* candidate : app.get_subcommands([](const CLI::App*) { return true; })) {
      names += (names.empty() ? "" : ", ") + candidate->get_name();
    }
    return std::string("unknown command '") + argv[1] + "'; the commands are " + names;
  }
  for (int i = 2; i < argc; ++i) {
    std::string name = argv[i];
    if (name == "--") break;
    if (name.rfind("--", 0) != 0) continue;
    const bool valueAttached = name.find('=') != std::string::npos;
    name = name.substr(0, name.find('='));
    const CLI::Option* option = command->get_option_no_throw(name);
    if (!option) return "unknown option " + name + " for '" + argv[1] + "' (see sluice " + argv[1] + " --help)";
    // The next word is this option's value, whatever it looks like (`--output --odd-name`).
    if (!valueAttached && option->get_items_expected_min() > 0) ++i;
  }
  return "";
}

}  // namespace

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
    const std::string unknown = error.get_exit_code() == 0 ? "" : unknownName(app, argc, argv);
    if (!unknown.empty()) {
      std::cerr << "sluice: error: " << unknown << "\n";
      exitCode = 2;
    } else {
      int code = app.exit(error);
      exitCode = code == 0 ? 0 : 2;
    }
  }
  sluice::io::finalizeStorage();
  if (const int signal = sluice::cli::pendingStopSignal(); signal != 0) {
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  return exitCode;
}
