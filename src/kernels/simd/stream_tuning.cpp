#include "kernels/simd/stream_tuning.h"

#include <array>
#include <cstdlib>

#include "core/error.h"

namespace edgellm::kernels {
namespace {

// Measured whole-model decode, 1 thread, `edgellm bench -p 0 -n 64` in alternating A/B runs,
// fraction of the read bound (docs/BENCHMARKS.md, "Kernels").
constexpr std::array<StreamTuning, 2> kTunings{{
    // Zen 4 (and any CPU not below): Q4_0 / Q8_0 4 blocks ahead (1152 / 2176 B) with the NTA
    // line: Llama-3.2-1B Q8_0 0.81-0.83 -> 0.97-0.98 from the NTA line. Q4_K: no L2
    // prefetch (the hardware prefetcher streams the panels alone on huge pages: 0.78-0.79
    // without, 0.65-0.69 with), NTA line 0.76-0.82 -> 0.83-0.89.
    {.name = "default", .legacy_l2_ahead_blocks = 4, .legacy_l1_nta_bytes = 64, .q4k_l2_ahead_bytes = 0,
     .q4k_l1_nta_bytes = 64},
    // Zen 5 (48 KiB L1, a different prefetcher): the NTA line costs 5-17% (Llama Q8_0 0.86 ->
    // 1.03 of the old probe without it) and the weight stream wants 4-9 KB of L2 prefetch:
    // Qwen2-0.5B Q4_0 0.78 (4 blocks) -> 0.85 (16); Llama Q8_0 0.81 -> 0.86; Llama Q4_K_M
    // 0.58 (neither) -> 0.85 (2 super-block panels, 4608 B).
    {.name = "zen5", .legacy_l2_ahead_blocks = 16, .legacy_l1_nta_bytes = 0, .q4k_l2_ahead_bytes = 4608,
     .q4k_l1_nta_bytes = 0},
}};

const StreamTuning& by_name(std::string_view name) {
  for (const StreamTuning& t : kTunings)
    if (t.name == name) return t;
  fail("unknown stream tuning '{}' (EDGELLM_STREAM_TUNING): use default or zen5", name);
}

}  // namespace

std::span<const StreamTuning> stream_tunings() { return kTunings; }

const StreamTuning& select_stream_tuning(const CpuFeatures& cpu, std::string_view name) {
  if (!name.empty()) return by_name(name);
  return by_name(cpu.amd && cpu.x86_family == 0x1a ? "zen5" : "default");
}

const StreamTuning& stream_tuning() {
  static const StreamTuning& tuning = [] () -> const StreamTuning& {
    const char* env = std::getenv("EDGELLM_STREAM_TUNING");
    return select_stream_tuning(cpu_features(), env != nullptr ? env : "");
  }();
  return tuning;
}

}  // namespace edgellm::kernels
