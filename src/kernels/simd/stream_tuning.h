// How the decode (one-token) panel kernels feed the weight stream from DRAM: software prefetch
// distances and hints that are facts of a microarchitecture, not of the instruction set, so they
// are chosen once at start-up from the CPU, like the kernel level, and kept as data in one
// table. They never change a result (prefetches only).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "kernels/simd/cpu_features.h"

namespace edgellm::kernels {

struct StreamTuning {
  std::string_view name;  // "default", "zen5"
  // Q4_0 / Q5_0 / Q8_0 panels: how far ahead of its reads a one-token call prefetches the
  // weight stream into L2, in panel blocks.
  size_t legacy_l2_ahead_blocks = 0;
  // Q4_0 / Q8_0 panels: bytes ahead of each demand load that a one-token call pulls the next
  // line into L1 with the NTA hint (0: none). Keeps the activations in L1 where the weight
  // stream would evict them (kernels/simd/x86_common-inl.h).
  size_t legacy_l1_nta_bytes = 0;
  // Q4_K panels, one token: the same two, the L2 distance in bytes (0: none).
  size_t q4k_l2_ahead_bytes = 0;
  size_t q4k_l1_nta_bytes = 0;
};

// Every tuning in the table, "default" first.
std::span<const StreamTuning> stream_tunings();

// The tuning for a CPU: "zen5" on AMD family 1Ah, "default" elsewhere. A non-empty `name`
// (EDGELLM_STREAM_TUNING in the environment, for measurements) picks that entry instead; an
// unknown name throws.
const StreamTuning& select_stream_tuning(const CpuFeatures& cpu, std::string_view name);

// The tuning of this process (selected on first use from cpu_features() and the environment).
const StreamTuning& stream_tuning();

}  // namespace edgellm::kernels
