// Placeholder until the GGUF work lands.
#include "commands.h"
#include "core/error.h"
namespace edgellm::cli {
void add_info_command(CLI::App& app) {
  app.add_subcommand("info", "(not built yet)")->callback([] { fail("not implemented yet"); });
}
}  // namespace edgellm::cli
