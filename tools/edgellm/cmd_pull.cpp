// `edgellm pull REFERENCE [--force] [--stall-timeout S]`: downloads hf://OWNER/REPO/FILE.gguf or
// an https:// URL into the cache ($EDGELLM_CACHE, default ~/.cache/edgellm) with a progress bar,
// resuming a partial download and checking the SHA-256 the source publishes. Prints the cached
// path on stdout, so `-m "$(edgellm pull ...)"` works too.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "model_source.h"

namespace edgellm::cli {

namespace {

struct PullArgs {
  std::string reference;
  bool force = false;
  int stall_timeout = 0;
};

void pull(const PullArgs& a) {
  const PullOutcome out = pull_model(a.reference, a.force, a.stall_timeout);
  if (out.already_cached) std::fprintf(stderr, "edgellm: already cached (use --force to download again)\n");
  std::printf("%s\n", out.path.c_str());
}

void add_pull_command(CLI::App& app) {
  auto a = std::make_shared<PullArgs>();
  CLI::App* cmd = app.add_subcommand("pull", "Download a model (hf://OWNER/REPO/FILE.gguf or https://...) into the cache");
  cmd->add_option("reference", a->reference, "hf://OWNER/REPO/FILE.gguf or https://HOST/PATH/FILE.gguf")->required();
  cmd->add_flag("--force", a->force, "Download again even if the file is cached");
  cmd->add_option("--stall-timeout", a->stall_timeout,
                  "Give up when no data arrives for this many seconds (default: $EDGELLM_STALL_TIMEOUT or 30)")
      ->check(CLI::Range(1, 3600));
  cmd->callback([a] { pull(*a); });
}

const CommandRegistration kRegisterPull(30, add_pull_command);

}  // namespace

}  // namespace edgellm::cli
