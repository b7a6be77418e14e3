// The sampling flags shared by `run` and `chat` (llama.cpp's names and defaults).
#pragma once

#include <CLI/CLI.hpp>

#include "sampling/sampler.h"

namespace edgellm::cli {

struct SamplingFlags {
  float temperature = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  int64_t seed = -1;

  void add_to(CLI::App& cmd);
  SamplingParams params() const;  // a negative seed draws a random one
};

}  // namespace edgellm::cli
