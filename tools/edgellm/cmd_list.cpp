// `edgellm list`: the models in the download cache with their sizes (and interrupted downloads
// that `edgellm pull` would resume), then the bundled default model.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "core/error.h"
#include "hub/model_ref.h"
#include "model_source.h"

namespace edgellm::cli {

namespace {

std::string size_text(uint64_t bytes) {
  if (bytes >= 1000ull * 1000 * 1000) return fmt::format("{:.2f} GB", static_cast<double>(bytes) / 1e9);
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

void list_models() {
  const std::string dir = hub::cache_directory();
  const auto files = hub::list_cache(dir);
  std::printf("cache: %s\n", dir.c_str());
  uint64_t total = 0;
  for (const auto& f : files) {
    std::printf("  %10s  %s%s\n", size_text(f.bytes).c_str(), f.reference.c_str(),
                f.partial ? "  (partial download: `edgellm pull` resumes it)" : "");
    total += f.bytes;
  }
  if (files.empty()) std::printf("  (empty: `edgellm pull hf://OWNER/REPO/FILE.gguf` downloads a model)\n");
  else std::printf("  %10s  total in %zu file%s\n", size_text(total).c_str(), files.size(), files.size() == 1 ? "" : "s");
  try {
    std::printf("default model (used without -m): %s\n", default_model_path().c_str());
  } catch (const Error&) {
    std::printf("default model (used without -m): missing\n");
  }
}

void add_list_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("list", "Show the downloaded models in the cache with their sizes");
  cmd->callback([] { list_models(); });
}

const CommandRegistration kRegisterList(32, add_list_command);

}  // namespace

}  // namespace edgellm::cli
