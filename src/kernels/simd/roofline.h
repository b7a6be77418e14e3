// Machine ceilings for the kernels' roofline: sustained read bandwidth from DRAM and the int8
// multiply-add peak of the active kernel level. The benchmarks report kernels as a fraction
// of these, measured in the same run.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgellm::kernels {

// STREAM-style read bandwidth in GB/s (1e9 bytes/s): `threads` threads each sum their slice of
// a buffer much larger than the last-level cache (read_sum); best of a few passes. Timed in per-thread CPU
// time (robust to a loaded machine; equal to wall time on an idle one).
double measure_read_bandwidth(int threads);

// The same probe, both of its summaries: the best pass (the bound above) and the mean of its
// passes. On a machine whose memory is shared with other tenants the two differ by what the
// host takes from one moment to the next (measured here at 2 threads: bursts of 55-62 GB/s,
// passes as low as 35), which the best pass hides.
struct ReadBandwidth {
  double best_gbps = 0.0;
  double mean_gbps = 0.0;
};
ReadBandwidth measure_read_bandwidth_passes(int threads);

// The probe's read loop: sums `bytes` of p (a multiple of 256) with active()'s widest vector
// loads (a loop of 64-bit loads reads ~0.55 of what zmm loads do on one Zen 5 core), and with
// l2_ahead > 0 prefetches that far ahead into L2 too. For benchmarks that compare kernels with
// plain reads of the same data.
uint64_t read_sum(const uint8_t* p, size_t bytes, size_t l2_ahead = 0);

// int8 multiply-add throughput in GOP/s (2 ops per multiply-add) of active()'s int8 probe
// (vpdpbusd on AVX-512 VNNI, vpmaddubsw on AVX2, sdot on NEON dotprod), `threads` threads.
double measure_int8_peak(int threads);

}  // namespace edgellm::kernels
