// Resource limits and options for rendering a chat template. Templates come from untrusted
// model files, so every render is bounded in output, loop work, recursion and memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>

namespace edgellm::chat {

struct RenderLimits {
  size_t max_output_bytes = 16u << 20;        // rendered text, and any single string value
  uint64_t max_loop_iterations = 1'000'000;    // summed over every loop of the render
  unsigned max_macro_depth = 100;              // nested macro calls (recursion)
  unsigned max_eval_depth = 400;               // nested statements/expressions while running
  // Bytes of strings and container slots created during the render, summed: bounds both
  // time and memory.
  uint64_t max_work_bytes = uint64_t{256} << 20;
};

struct RenderOptions {
  RenderLimits limits;
  // strftime_now() formats this broken-down time instead of the local clock (for tests and
  // reproducible prompts).
  std::optional<std::tm> fixed_time;
};

}  // namespace edgellm::chat
