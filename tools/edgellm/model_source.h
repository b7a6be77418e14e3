// Where `-m` points: one function for every command that loads a model (run, chat, serve).
//   ""                       the bundled default model (see default_model_path)
//   hf://OWNER/REPO/FILE     the cached copy, downloaded on first use (see edgellm pull)
//   https://HOST/PATH/FILE   the same, for any URL
//   anything else            a local path, as given
#pragma once

#include <string>

#include "hub/download.h"
#include "hub/model_ref.h"

namespace edgellm::cli {

// The GGUF file to load for a -m argument; downloads remote models that are not cached yet.
std::string resolve_model_path(const std::string& model_arg);

// The bundled default model, the first that exists of: $EDGELLM_DEFAULT_MODEL,
// <executable dir>/../share/edgellm/default.gguf (an installed edgellm), and the source tree's
// models/default.gguf (a build). Fails with what to do when none exists.
std::string default_model_path();

struct PullOutcome {
  std::string path;
  bool already_cached = false;
  hub::DownloadResult download;
};

// Downloads a remote reference into the cache (with a progress bar on stderr) unless it is
// already there; force re-downloads. stall_timeout_seconds <= 0 takes $EDGELLM_STALL_TIMEOUT or 30.
PullOutcome pull_model(const std::string& reference, bool force, int stall_timeout_seconds = 0);

}  // namespace edgellm::cli
