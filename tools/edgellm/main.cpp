#include <cstdio>
#include <exception>

#include "commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"edgellm: run large language models locally"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "edgellm 0.1.0");

  edgellm::cli::add_all_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const edgellm::Error& e) {
    std::fprintf(stderr, "edgellm: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgellm: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
