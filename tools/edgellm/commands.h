// Every `edgellm SUBCOMMAND` lives in its own cmd_*.cpp and registers itself with a file-scope
// CommandRegistration, so adding a command touches no shared file. A command's callback throws
// edgellm::Error on failure; main() prints it to stderr and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>

namespace edgellm::cli {

using AddCommandFn = void (*)(CLI::App& app);

// `order` sets the command's place in `edgellm --help` (lower first).
struct CommandRegistration {
  CommandRegistration(int order, AddCommandFn add);
};

// Adds every registered command to app, in order.
void add_all_commands(CLI::App& app);

}  // namespace edgellm::cli
