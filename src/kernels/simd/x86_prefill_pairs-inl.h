// x86 kernel family, part 6b: prefill over two adjacent 16-row panels at once (Q4_0 and Q8_0
// panels as stored, Q5_0 panels expanded first; AVX-512 VNNI), in the level's arithmetic
// (x86_legacy_vnni-inl.h).
//
// Why pairs: against one panel, a group of 4 tokens issues 32 vpdpbusd per block and ~45 loads
// (the weights, and per token 8 activation broadcasts, its scale and seed), and on a core that
// issues two 512-bit vpdpbusd a cycle (Zen 5) the loads set the pace. Against two panels each
// broadcast feeds two vpdpbusd: 64 per block for ~50 loads.
//
// Registers: two panels x 4 tokens x 4 float chains would be 32 accumulators. The chains are
// independent sums (block b goes into chain b % 4), so they are run one after the other, each
// over its own blocks (K, K + 4, ...): 8 accumulators live, and the result is the same bit for
// bit as the one-panel kernels' (integer dots exact, each chain's FMAs in block order, the
// same final (c0 + c1) + (c2 + c3)).
#pragma once

#if defined(__AVX512F__) && defined(__AVX512VNNI__)

#include <algorithm>

#include "kernels/simd/x86_prefill-inl.h"

namespace edgellm::kernels::x86 {
namespace {

// Formats with a pair kernel: Q5_0 expands its panels first (x86_prefill-inl.h).
template <TensorType kType>
constexpr bool kPairsPanels = kType == kQ4_0 || kType == kQ5_0 || kType == kQ8_0;

// From kMinExpandTokens tokens a Q5_0 call expands each panel once and its token groups read
// the expanded weights, instead of unpacking every block (8 masked adds more than Q4_0) once
// per group of 4 tokens. Zen 4, 1 thread, 2048 x 4096, GOP/s unpacked per group vs expanded:
// Q5_0 at 8 / 16 / 32 / 64 / 128 tokens 272 / 274 / 272 / 255 / 266 vs 240 / 280 / 298 / 283 /
// 308; Q4_0 at 8 / 16 / 128 333 / 336 / 315 vs 249 / 287 / 318, so Q4_0 (and Q8_0, which has
// nothing to unpack) reads the panel layout at every token count. Both round alike.
template <TensorType kType>
constexpr bool kExpandsPanels = kType == kQ5_0;
constexpr int64_t kMinExpandTokens = 16;

// From this many tokens a call runs panel pairs; fewer go one panel at a time in block order.
// simd_bench pool_batch (2048 x 4096, 1 thread, Zen 5), GOP/s pairs vs one panel: Q4_0 at 4 / 8
// / 128 tokens 602 / 661 / 747-777 vs 535 / 566 / 570; Q8_0 at 4 / 8 / 128 428 / 501 / 692-697
// vs 442 / 514 / 536; Q5_0 (both expanded) at 16 / 128 472 / 602 vs 487 / 573, and Qwen2.5-0.5B
// Q4_K_M (mostly Q5_0) pp128 / pp512 563 / 544 vs 496 / 483 t/s. Both round alike, so the
// choice never changes a result. Q5_0 pairs read expanded panels, so they start where the
// expansion does.
template <TensorType kType>
constexpr int64_t kMinPairTokens = kType == kQ4_0 ? 4 : (kType == kQ8_0 ? 8 : kMinExpandTokens);

// The weights of a pair kernel's next panel pair are prefetched into L2 while the current pair
// is being multiplied, spread evenly over its token groups' block steps.
struct PairPrefetch {
  const uint8_t* next = nullptr;  // the next pair's first byte, or null at the end of the range
  size_t bytes = 0;               // the next pair's size
  size_t per_step = 0;            // bytes prefetched per block step
  size_t done = 0;
  inline void step() {
    if (done >= bytes) return;
    const size_t end = std::min(bytes, done + per_step);
    for (; done < end; done += 64) _mm_prefetch(reinterpret_cast<const char*>(next + done), _MM_HINT_T1);
  }
};

// Block b of both panels against 4 tokens: acc[p][t] += float(dot) * (d_w * d_x).
template <TensorType kType, bool kExpanded>
inline void pair_block(const uint8_t* b0, const uint8_t* b1, const uint8_t* const x[4], const float* const dx[4],
                       const int32_t* const seed[4], int64_t b, __m512 acc[2][4]) {
  constexpr int T = 4;
  // Two partial sums per dot (integer, exact): 16 independent vpdpbusd chains of half the depth,
  // enough to cover the instruction's latency at two a cycle.
  __m512i dot[2][T], part[2][T];
  const uint8_t* xb[T];
  for (int t = 0; t < T; ++t) {
    dot[0][t] = dot[1][t] = _mm512_set1_epi32(seed[t][b]);
    part[0][t] = part[1][t] = _mm512_setzero_si512();
    xb[t] = x[t] + b * kQ8_0Bytes + 2;
  }
  const auto bcast = [](const uint8_t* p) { return _mm512_set1_epi32(static_cast<int>(load_u32(p))); };
  __m512 scale0, scale1;
  if constexpr (kType == kQ8_0 || kExpanded) {  // 8 weight vectors, no unpacking
    for (int j = 0; j < 8; j += 2) {
      const __m512i w0 = _mm512_loadu_si512(b0 + 64 * j), w1 = _mm512_loadu_si512(b1 + 64 * j);
      const __m512i u0 = _mm512_loadu_si512(b0 + 64 * j + 64), u1 = _mm512_loadu_si512(b1 + 64 * j + 64);
      for (int t = 0; t < T; ++t) {
        const __m512i xv = bcast(xb[t] + 4 * j), xu = bcast(xb[t] + 4 * j + 4);
        dot[0][t] = _mm512_dpbusd_epi32(dot[0][t], w0, xv);
        dot[1][t] = _mm512_dpbusd_epi32(dot[1][t], w1, xv);
        part[0][t] = _mm512_dpbusd_epi32(part[0][t], u0, xu);
        part[1][t] = _mm512_dpbusd_epi32(part[1][t], u1, xu);
      }
    }
    if constexpr (kExpanded) {
      scale0 = _mm512_loadu_ps(b0 + 512);
      scale1 = _mm512_loadu_ps(b1 + 512);
    } else {
      scale0 = _mm512_cvtph_ps(load256(b0 + 512));
      scale1 = _mm512_cvtph_ps(load256(b1 + 512));
    }
  } else {
    const __m512i nibble = _mm512_set1_epi8(0x0f);
    for (int j = 0; j < 4; ++j) {  // vector j holds elements 4j.. (low nibbles), 4(j + 4).. (high)
      const __m512i v0 = _mm512_loadu_si512(b0 + 64 * j), v1 = _mm512_loadu_si512(b1 + 64 * j);
      const __m512i lo0 = _mm512_and_si512(v0, nibble), hi0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), nibble);
      const __m512i lo1 = _mm512_and_si512(v1, nibble), hi1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), nibble);
      for (int t = 0; t < T; ++t) {
        const __m512i xlo = bcast(xb[t] + 4 * j), xhi = bcast(xb[t] + 4 * (j + 4));
        dot[0][t] = _mm512_dpbusd_epi32(dot[0][t], lo0, xlo);
        dot[1][t] = _mm512_dpbusd_epi32(dot[1][t], lo1, xlo);
        part[0][t] = _mm512_dpbusd_epi32(part[0][t], hi0, xhi);
        part[1][t] = _mm512_dpbusd_epi32(part[1][t], hi1, xhi);
      }
    }
    scale0 = _mm512_cvtph_ps(load256(b0 + 256));
    scale1 = _mm512_cvtph_ps(load256(b1 + 256));
  }
  for (int p = 0; p < 2; ++p)
    for (int t = 0; t < T; ++t) dot[p][t] = _mm512_add_epi32(dot[p][t], part[p][t]);
  for (int t = 0; t < T; ++t) {
    const __m512 d = _mm512_set1_ps(dx[t][b]);
    acc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[0][t]), _mm512_mul_ps(scale0, d), acc[0][t]);
    acc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[1][t]), _mm512_mul_ps(scale1, d), acc[1][t]);
  }
}

// Chain k (blocks k, k + 4, ...) of tokens [t0, t0 + 4) against the panels p0 and p1 = p0 +
// one panel: out[p][t] = that chain's sum for rows 16p .. 16p + 15.
template <TensorType kType, bool kExpanded>
inline void pair_chain(const uint8_t* p0, int64_t nb, int k, const uint8_t* xq, size_t xs, const ScratchBuffers& s,
                       PairPrefetch& prefetch, int64_t t0, __m512* out) {
  constexpr int T = 4;
  constexpr size_t kBytes = kExpanded ? kScratchBlockBytes : kPackedBlockBytes<kType>;
  const uint8_t* p1 = p0 + static_cast<size_t>(nb) * kBytes;
  const uint8_t* x[T];
  const float* dx[T];
  const int32_t* seed[T];
  for (int t = 0; t < T; ++t) {
    x[t] = xq + (t0 + t) * xs;
    dx[t] = s.dx.data() + (t0 + t) * nb;
    seed[t] = s.seed.data() + (t0 + t) * nb;
  }
  __m512 acc[2][T];
  for (int p = 0; p < 2; ++p)
    for (int t = 0; t < T; ++t) acc[p][t] = _mm512_setzero_ps();
  for (int64_t b = k; b < nb; b += 4) {
    prefetch.step();
    const size_t at = static_cast<size_t>(b) * kBytes;
    pair_block<kType, kExpanded>(p0 + at, p1 + at, x, dx, seed, b, acc);
  }
  for (int p = 0; p < 2; ++p)
    for (int t = 0; t < T; ++t) out[p * T + t] = acc[p][t];
}

// Every token of the call against the panel pair at `pair` (rows r .. r + 31). Chain-major: for
// each chain, every group of 4 tokens, so that what a group reads again (a quarter of the pair's
// blocks) stays in L1; the chains' sums wait in a per-thread buffer for the final
// (c0 + c1) + (c2 + c3). The 1-3 tokens left over go one panel at a time (in cache by then).
template <TensorType kType, bool kExpanded>
void pair_all_tokens(const uint8_t* pair, const uint8_t* next, int64_t nb, const uint8_t* xq, size_t xs,
                     ScratchBuffers& s, int64_t n_tokens, float* y, size_t ys) {
  const size_t panel_bytes = static_cast<size_t>(nb) * (kExpanded ? kScratchBlockBytes : kPackedBlockBytes<kType>);
  const size_t next_bytes = 2 * static_cast<size_t>(nb) * kPackedBlockBytes<kType>;
  const int64_t groups = n_tokens / 4;
  PairPrefetch prefetch;
  if (next != nullptr) {
    prefetch.next = next;
    prefetch.bytes = next_bytes;
    const size_t steps = static_cast<size_t>(std::max<int64_t>(groups * nb, 1));
    prefetch.per_step = std::max<size_t>((prefetch.bytes / steps + 63) / 64 * 64, 64);
  }
  constexpr int kSums = 2 * 4;  // per group and chain: 2 panels x 4 tokens
  s.chains.resize(static_cast<size_t>(groups) * 3 * kSums * 16);
  float* sums = s.chains.data();
  for (int k = 0; k < 3; ++k)
    for (int64_t g = 0; g < groups; ++g) {
      __m512 c[kSums];
      pair_chain<kType, kExpanded>(pair, nb, k, xq, xs, s, prefetch, 4 * g, c);
      for (int i = 0; i < kSums; ++i) _mm512_storeu_ps(sums + ((g * 3 + k) * kSums + i) * 16, c[i]);
    }
  for (int64_t g = 0; g < groups; ++g) {
    __m512 c3[kSums];
    pair_chain<kType, kExpanded>(pair, nb, 3, xq, xs, s, prefetch, 4 * g, c3);
    const float* c = sums + g * 3 * kSums * 16;
    const auto chain = [&](int k, int i) { return _mm512_loadu_ps(c + (k * kSums + i) * 16); };
    for (int i = 0; i < kSums; ++i) {
      const int p = i / 4, t = i % 4;
      _mm512_storeu_ps(y + (4 * g + t) * ys + 16 * p,
                       _mm512_add_ps(_mm512_add_ps(chain(0, i), chain(1, i)), _mm512_add_ps(chain(2, i), c3[i])));
    }
  }
  const int64_t t = 4 * groups;
  if (t < n_tokens) {
    const DecodeStream none{};
    for (int p = 0; p < 2; ++p) {
      const uint8_t* panel = pair + p * panel_bytes;
      float* yp = y + 16 * p;
      if (n_tokens - t >= 2) direct_tokens<kType, 2, kExpanded>(panel, nb, xq, xs, s, none, t, yp, ys);
      if ((n_tokens - t) % 2 == 1) direct_tokens<kType, 1, kExpanded>(panel, nb, xq, xs, s, none, n_tokens - 1, yp, ys);
    }
  }
}

// MatmulFn for panel-layout Q4_0 / Q5_0 / Q8_0 weights (rows in whole panels). Every panel is
// read once per group of 4 tokens (or expanded once); past the first group it comes from L2.
template <TensorType kType>
void matmul_packed(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end,
                   int64_t cols, const void* xq, size_t xq_stride, int64_t n_tokens, float* y,
                   size_t y_stride) {
  const int64_t nb = cols / 32;
  const auto* x = static_cast<const uint8_t*>(xq);
  ScratchBuffers& s = scratch_buffers();
  const bool expand = kExpandsPanels<kType> && n_tokens >= kMinExpandTokens;
  if (expand) {
    s.reserve(nb, n_tokens);
  } else {
    s.reserve_tokens(nb, n_tokens);
  }
  token_constants<kType>(x, xq_stride, n_tokens, nb, s.dx.data(), s.seed.data());
  const DecodeStream decode = decode_stream<kType>();
  int64_t r = row_begin;
  if constexpr (kPairsPanels<kType>) {
    if (n_tokens >= kMinPairTokens<kType>) {
      const size_t expanded_panel = static_cast<size_t>(nb) * kScratchBlockBytes;
      if (kExpandsPanels<kType>) s.panel.resize(2 * expanded_panel);
      for (; r + 2 * kPanelRows <= row_end; r += 2 * kPanelRows) {
        const uint8_t* pair = w + r * row_stride;
        const uint8_t* next = r + 4 * kPanelRows > row_end ? nullptr : w + (r + 2 * kPanelRows) * row_stride;
        if constexpr (kExpandsPanels<kType>) {  // both panels expanded, one after the other
          scratch_from_panel<kType>(pair, nb, s.panel.data());
          scratch_from_panel<kType>(w + (r + kPanelRows) * row_stride, nb, s.panel.data() + expanded_panel);
          pair_all_tokens<kType, true>(s.panel.data(), next, nb, x, xq_stride, s, n_tokens, y + r, y_stride);
        } else {
          pair_all_tokens<kType, false>(pair, next, nb, x, xq_stride, s, n_tokens, y + r, y_stride);
        }
      }
    }
  }
  for (; r < row_end; r += kPanelRows) {
    const uint8_t* panel = w + r * row_stride;
    if constexpr (kExpandsPanels<kType>) {
      if (expand) {
        scratch_from_panel<kType>(panel, nb, s.panel.data());
        direct_all_tokens<kType, true>(s.panel.data(), nb, x, xq_stride, s, decode, n_tokens, y + r, y_stride);
        continue;
      }
    }
    direct_all_tokens<kType, false>(panel, nb, x, xq_stride, s, decode, n_tokens, y + r, y_stride);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86

#endif  // AVX-512 VNNI
