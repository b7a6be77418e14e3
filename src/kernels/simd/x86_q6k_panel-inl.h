// x86 kernel family, part 7: the 16-row panel kernel for Q6_K weights on AVX-512 VNNI, for
// every token count (1: the decode matvec; groups of up to 4 tokens read the panel once).
//
// The panel layout (panel_layout.h) gives, per unit of 3 vectors A B C, one dword of 16 rows
// for each of 4 sub-blocks (roles p = 0..3): p < 3 is X & 0x3f (the quant q), p = 3 is built
// as 4 q (see q6_unit). One vpdpbusd of a weight vector with a broadcast activation dword is a
// 4-element dot for the 16 rows (lanes), so a 16-element sub-block takes 4 of them.
//
// Arithmetic per (row, token) and super-block, all exact in int32:
//   dot_k  = sum_e (q_e - 32) x_e over sub-block k: the vpdpbusd chain seeded with -32 bsum_k
//            (the Q8_K bsums are per 16 values, so the bias is exact per sub-block); the p = 3
//            sub-blocks sum (4 q - 128) x = 4 dot_k, shifted back right by 2 (exact);
//   isum   = sum_k sc_k dot_k (vpmulld by the sign-extended int8 scales of the 16 rows);
// then one f32 multiply-add per super-block: acc = fma(float(isum), d * d_x, acc), y = acc.
// No int32 overflows: |q - 32| <= 32 and |x| <= 128, so |dot_k| <= 16 * 32 * 128 = 2^16 (the
// chain's partial sums, 4 q x and the seed, stay below 2^20), |sc_k dot_k| <= 2^23 and
// |isum| <= 16 * 2^23 = 2^27. The integer part is exact whatever the order, and the float part
// is one chain in super-block order for every token count, token group and row range: batch
// invariant. (Not bit-identical to the row-layout kernel, whose f32 sums run in 8 lanes.)
#pragma once

#if defined(__AVX512F__) && defined(__AVX512VNNI__)

#include <cstring>
#include <vector>

#include "kernels/panel_layout.h"
#include "kernels/simd/x86_common-inl.h"

namespace edgellm::kernels::x86 {
namespace {

constexpr size_t kQ6PanelBlock = Q6KPanelOffsets::kBlockBytes;  // one super-block of a panel
constexpr size_t kQ6ScalesAt = Q6KPanelOffsets::kScales, kQ6QuantsAt = Q6KPanelOffsets::kQuants,
                 kQ6DAt = Q6KPanelOffsets::kD;

// How far ahead the first token group of a panel prefetches the weight stream into L2. One
// contiguous stream (the row kernel has 16) needs a long distance for DRAM: Zen 4, 1 thread,
// pool_matvec/q6_K/panels bw_frac 0.43-0.71 without, 0.73-0.82 at 8 KB, 0.80-0.88 at 16 KB;
// it costs the cache-resident case ~15% (pool_hot 60 -> 51 GB/s), decode streams.
constexpr size_t kQ6PrefetchBytes = 16384;

// The four weight vectors of one unit (A B C at u): roles 0..2 as q, role 3 as 4 q.
// w3: bits 6-7 from A (q bits 4-5), 4-5 from B >> 2 (q bits 2-3), 2-3 from C >> 4 (q bits
// 0-1), 0-1 cleared; the 16-bit shifts only drag neighbouring bits into places replaced later.
inline void q6_unit(const uint8_t* u, __m512i w[4]) {
  __m512i a = _mm512_loadu_si512(u), b = _mm512_loadu_si512(u + 64), c = _mm512_loadu_si512(u + 128);
  // Each vector is used two or three times: keep the compiler from folding a load into each
  // use (the load ports, not the vector units, were the limit: 8 instead of 3 loads a unit).
  __asm__("" : "+v"(a), "+v"(b), "+v"(c));
  const __m512i low6 = _mm512_set1_epi8(0x3f);
  w[0] = _mm512_and_si512(a, low6);
  w[1] = _mm512_and_si512(b, low6);
  w[2] = _mm512_and_si512(c, low6);
  // Bit select m ? first : second is ternary-logic function 0xe4 of (first, second, m).
  const __m512i ab = _mm512_ternarylogic_epi32(a, _mm512_srli_epi16(b, 2), _mm512_set1_epi8(static_cast<char>(0xc0)), 0xe4);
  const __m512i abc = _mm512_ternarylogic_epi32(ab, _mm512_srli_epi16(c, 4), _mm512_set1_epi8(static_cast<char>(0xf0)), 0xe4);
  w[3] = _mm512_and_si512(abc, _mm512_set1_epi8(static_cast<char>(0xfc)));
}

// Per (token, super-block): d_x, and per sub-block k the chain's seed: -32 bsum_k, or -128
// bsum_k for the sub-blocks of role 3 (their weights are 4 q).
inline void q6_token_constants(const uint8_t* xq, size_t xs, int64_t nt, int64_t nb, float* dx, int32_t* seed) {
  for (int64_t t = 0; t < nt; ++t)
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* xb = xq + t * xs + b * kQ8KBytes;
      std::memcpy(&dx[t * nb + b], xb, 4);
      int16_t bsums[16];
      std::memcpy(bsums, xb + kQ8KSumsAt, sizeof(bsums));
      for (int k = 0; k < 16; ++k) seed[(t * nb + b) * 16 + k] = (k % 4 == 3 ? -128 : -32) * bsums[k];
    }
}

// T <= 4 tokens against one panel, reading it once in super-block order.
template <int T>
struct Q6Panel {
  const uint8_t* x[T];     // token rows (Q8_K blocks)
  const float* dx[T];      // per super-block
  const int32_t* seed[T];  // per super-block, 16 each
  size_t ahead = 0;        // prefetch distance, 0 for none

  inline void block(const uint8_t* panel, int64_t b, __m512 acc[T]) {
    const uint8_t* pb = panel + static_cast<size_t>(b) * kQ6PanelBlock;
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int q = 0; q < 4; ++q) {  // sub-blocks 4q .. 4q + 3, from units 4q .. 4q + 3
      if (ahead != 0) {  // spread over the quads: a burst of 53 prefetches was slower
        const size_t at = static_cast<size_t>(b) * kQ6PanelBlock + static_cast<size_t>(q) * (kQ6PanelBlock / 4);
        prefetch_span(panel, at, at + kQ6PanelBlock / 4, ahead);
      }
      __m512i w[4][4];             // [unit j][role p]: dword j of sub-block 4q + p
      for (int j = 0; j < 4; ++j) q6_unit(pb + kQ6QuantsAt + 192 * (4 * q + j), w[j]);
      __m512i sc[4];
      for (int p = 0; p < 4; ++p) sc[p] = _mm512_cvtepi8_epi32(load128(pb + kQ6ScalesAt + 16 * (4 * q + p)));
      for (int t = 0; t < T; ++t) {
        const uint8_t* xk = x[t] + b * kQ8KBytes + kQ8KQuantsAt + 64 * q;  // sub-block 4q's activations
        const int32_t* sk = seed[t] + b * 16 + 4 * q;
        for (int p = 0; p < 4; ++p) {
          __m512i dot = _mm512_set1_epi32(sk[p]);
          for (int j = 0; j < 4; ++j)
            dot = _mm512_dpbusd_epi32(dot, w[j][p], _mm512_set1_epi32(static_cast<int>(load_u32(xk + 16 * p + 4 * j))));
          if (p == 3) dot = _mm512_srai_epi32(dot, 2);
          isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot, sc[p]));
        }
      }
    }
    const __m512 d = _mm512_cvtph_ps(load256(pb + kQ6DAt));
    for (int t = 0; t < T; ++t)
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, _mm512_set1_ps(dx[t][b])), acc[t]);
  }

  void run(const uint8_t* panel, int64_t nb, float* y, size_t ys) {
    __m512 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) block(panel, b, acc);
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(y + t * ys, acc[t]);
  }
};

struct Q6Buffers {
  std::vector<float> dx;
  std::vector<int32_t> seed;
};

// Tokens [t0, t0 + T) of the call against one panel; only the first group prefetches (the
// later ones find the panel in L2).
template <int T>
void q6_tokens(const uint8_t* panel, int64_t nb, const uint8_t* xq, size_t xs, const Q6Buffers& s, int64_t t0,
               float* y, size_t ys) {
  Q6Panel<T> k;
  if (t0 == 0) k.ahead = kQ6PrefetchBytes;
  for (int t = 0; t < T; ++t) {
    k.x[t] = xq + (t0 + t) * xs;
    k.dx[t] = s.dx.data() + (t0 + t) * nb;
    k.seed[t] = s.seed.data() + (t0 + t) * nb * 16;
  }
  k.run(panel, nb, y + t0 * ys, ys);
}

// MatmulFn for panel-layout Q6_K weights (rows in whole panels): every panel is read once per
// group of 4 tokens (then 2, 1).
void matmul_packed_q6k(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end, int64_t cols,
                       const void* xq, size_t xq_stride, int64_t n_tokens, float* y, size_t y_stride) {
  const int64_t nb = cols / 256;
  const auto* x = static_cast<const uint8_t*>(xq);
  thread_local Q6Buffers s;
  s.dx.resize(static_cast<size_t>(n_tokens * nb));
  s.seed.resize(static_cast<size_t>(n_tokens * nb * 16));
  q6_token_constants(x, xq_stride, n_tokens, nb, s.dx.data(), s.seed.data());
  for (int64_t r = row_begin; r < row_end; r += kPanelRows) {
    const uint8_t* panel = w + r * row_stride;
    float* yr = y + r;
    int64_t t = 0;
    for (; t + 4 <= n_tokens; t += 4) q6_tokens<4>(panel, nb, x, xq_stride, s, t, yr, y_stride);
    if (n_tokens - t >= 2) {
      q6_tokens<2>(panel, nb, x, xq_stride, s, t, yr, y_stride);
      t += 2;
    }
    if (t < n_tokens) q6_tokens<1>(panel, nb, x, xq_stride, s, t, yr, y_stride);
  }
}

}  // namespace
}  // namespace edgellm::kernels::x86

#endif  // AVX-512 VNNI
