// x86 inner loops of AttentionTile (see attention_kernels.h). Every function carries its own
// target attribute; attention.cpp calls them only when the kernel level has the features.
// GCC 12 warns inside its own AVX-512 intrinsics (they pass _mm512_undefined_*() as the unused
// merge source: GCC bug 105593); the warning is spurious, so it is silenced for this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "runtime/attention_kernels.h"

#include "runtime/attention.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace edgellm::runtime::attention_kernels {

namespace {

// ---- AVX2 + FMA + F16C: one query row at a time ----

template <bool f16>
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const uint8_t* row, int64_t i) {
  if constexpr (f16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row + 4 * i));
  }
}

template <bool f16>
__attribute__((target("avx2,fma,f16c"))) inline float load1(const uint8_t* row, int64_t i) {
  if constexpr (f16) {
    uint16_t h;
    std::memcpy(&h, row + 2 * i, 2);
    return _cvtsh_ss(h);
  }
  float f;
  std::memcpy(&f, row + 4 * i, 4);
  return f;
}

// Tail columns [i, d) of q . row, scalar.
template <bool f16>
__attribute__((target("avx2,fma,f16c"))) inline float dot_tail(const float* q, const uint8_t* row, int64_t i,
                                                               int64_t d) {
  float t = 0.0f;
  for (; i < d; ++i) t += q[i] * load1<f16>(row, i);
  return t;
}

// s[j] = scale * q . k_j for j < n; four positions at a time share each load of q and one
// horizontal reduction.
template <bool f16>
__attribute__((target("avx2,fma,f16c"))) void scores_rows_avx2(const float* q, const uint8_t* k, size_t stride,
                                                              int64_t n, int64_t d, float scale, float* s) {
  const int64_t d8 = d / 8 * 8;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const uint8_t* r[4];
    __m256 a[4];
    for (int u = 0; u < 4; ++u) {
      r[u] = k + static_cast<size_t>(j + u) * stride;
      a[u] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < d8; i += 8) {
      const __m256 qv = _mm256_loadu_ps(q + i);
      for (int u = 0; u < 4; ++u) a[u] = _mm256_fmadd_ps(qv, load8<f16>(r[u], i), a[u]);
    }
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    if (d8 < d)
      sum4 = _mm_add_ps(sum4, _mm_setr_ps(dot_tail<f16>(q, r[0], d8, d), dot_tail<f16>(q, r[1], d8, d),
                                          dot_tail<f16>(q, r[2], d8, d), dot_tail<f16>(q, r[3], d8, d)));
    _mm_storeu_ps(s + j, _mm_mul_ps(sum4, _mm_set1_ps(scale)));
  }
  for (; j < n; ++j) {
    const uint8_t* row = k + static_cast<size_t>(j) * stride;
    __m256 a = _mm256_setzero_ps();
    for (int64_t i = 0; i < d8; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8<f16>(row, i), a);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    s[j] = (_mm_cvtss_f32(h) + dot_tail<f16>(q, row, d8, d)) * scale;
  }
}

// acc[0..d) += sum_j w[j] v_j; 64 columns at a time stay in registers over all positions.
template <bool f16>
__attribute__((target("avx2,fma,f16c"))) void accumulate_rows_avx2(float* acc, const float* w, const uint8_t* v,
                                                                  size_t stride, int64_t n, int64_t d) {
  int64_t i = 0;
  for (; i + 64 <= d; i += 64) {
    __m256 a[8];
    for (int u = 0; u < 8; ++u) a[u] = _mm256_loadu_ps(acc + i + 8 * u);
    for (int64_t j = 0; j < n; ++j) {
      const __m256 wj = _mm256_set1_ps(w[j]);
      const uint8_t* row = v + static_cast<size_t>(j) * stride;
      for (int u = 0; u < 8; ++u) a[u] = _mm256_fmadd_ps(wj, load8<f16>(row, i + 8 * u), a[u]);
    }
    for (int u = 0; u < 8; ++u) _mm256_storeu_ps(acc + i + 8 * u, a[u]);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 a = _mm256_loadu_ps(acc + i);
    for (int64_t j = 0; j < n; ++j)
      a = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), load8<f16>(v + static_cast<size_t>(j) * stride, i), a);
    _mm256_storeu_ps(acc + i, a);
  }
  for (; i < d; ++i) {
    float a = acc[i];
    for (int64_t j = 0; j < n; ++j) a += w[j] * load1<f16>(v + static_cast<size_t>(j) * stride, i);
    acc[i] = a;
  }
}

}  // namespace

void scores_avx2(const float* q, const uint8_t* k, size_t stride, int64_t n, int64_t d, float scale, float* s,
                 bool f16) {
  if (f16) {
    scores_rows_avx2<true>(q, k, stride, n, d, scale, s);
  } else {
    scores_rows_avx2<false>(q, k, stride, n, d, scale, s);
  }
}

void accumulate_avx2(float* acc, const float* w, const uint8_t* v, size_t stride, int64_t n, int64_t d, bool f16) {
  if (f16) {
    accumulate_rows_avx2<true>(acc, w, v, stride, n, d);
  } else {
    accumulate_rows_avx2<false>(acc, w, v, stride, n, d);
  }
}

__attribute__((target("avx2,fma,f16c"))) float max_avx2(const float* s, int64_t n) {
  __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(s + j));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  float best = _mm_cvtss_f32(h);
  for (; j < n; ++j) best = std::max(best, s[j]);
  return best;
}

// s[j] = e^(s[j] - max) for j < n (the polynomial of exp_nonpositive, 8 lanes); returns the sum.
__attribute__((target("avx2,fma,f16c"))) float exp_sum_avx2(float* s, int64_t n, float max) {
  const __m256 vmax = _mm256_set1_ps(max), lowest = _mm256_set1_ps(kExpLowest);
  const __m256 log2e = _mm256_set1_ps(kExpLog2e), round = _mm256_set1_ps(kExpRound);
  const __m256 ln2_hi = _mm256_set1_ps(kExpLn2Hi), ln2_lo = _mm256_set1_ps(kExpLn2Lo);
  __m256 total = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 x = _mm256_sub_ps(_mm256_loadu_ps(s + j), vmax);
    const __m256 under = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
    const __m256 v = _mm256_max_ps(x, lowest);
    const __m256 shifted = _mm256_fmadd_ps(v, log2e, round);
    const __m256 kf = _mm256_sub_ps(shifted, round);
    const __m256 r = _mm256_fnmadd_ps(kf, ln2_lo, _mm256_fnmadd_ps(kf, ln2_hi, v));
    __m256 p = _mm256_set1_ps(kExpPoly[0]);
    #pragma GCC unroll 8
    for (int c = 1; c < 7; ++c) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpPoly[c]));
    const __m256i e = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_castps_si256(round));
    const __m256 scale = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
    const __m256 y = _mm256_andnot_ps(under, _mm256_mul_ps(p, scale));
    _mm256_storeu_ps(s + j, y);
    total = _mm256_add_ps(total, y);
  }
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(total), _mm256_extractf128_ps(total, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float sum = _mm_cvtss_f32(h);
  if (j < n) {
    for (int64_t t = j; t < n; ++t) s[t] -= max;
    exp_nonpositive(s + j, n - j);
    for (int64_t t = j; t < n; ++t) sum += s[t];
  }
  return sum;
}

// ---- AVX-512: all rows of a tile per block ----
//
// Scores: the keys of a panel of kKeyPanel positions are converted to F32 and transposed once
// (keys_t[d][lane]), then rows x 32 positions are multiply-added one column d at a time, each
// converted key vector feeding every row of the pass, with no horizontal sums: the score of
// (row, position) is the sequential chain fma(q[d], k[d], ·) over d = 0..dk-1 in its own lane,
// so it does not depend on which rows or positions share the pass. Accumulate: acc[c] of a row
// is the sequential chain fma(w_j, v_j[c], ·) over its positions j, rows sharing each
// converted value vector. The softmax step is per row over the 4 score vectors of the block.

namespace {

// The loops over rows and vectors are unrolled by pragma: GCC otherwise keeps the accumulator
// arrays on the stack, storing them on every iteration.
#define EDGELLM_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

static_assert(kKeyPanel <= AttentionTile::kBlock, "keys_t is the tile's kBlock x head_dim_k buffer");
constexpr int kScoreRows = 8;  // rows per score pass: 16 accumulators (2 per row)
constexpr int kAccRows = 6;    // rows per accumulate pass: up to 24 accumulators (4 per row)
constexpr int kLanes = 16;

EDGELLM_AVX512_TARGET inline __mmask16 first_lanes(int64_t count) {
  return count >= kLanes ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>(count <= 0 ? 0 : (1u << count) - 1);
}

// Elements [i, i + 16) of a row (F16 or F32), lanes outside `mask` zero (and not read).
template <bool f16>
EDGELLM_AVX512_TARGET inline __m512 load16(const uint8_t* row, int64_t i, __mmask16 mask) {
  if constexpr (f16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * i));
  } else {
    return _mm512_maskz_loadu_ps(mask, row + 4 * i);
  }
}

EDGELLM_AVX512_TARGET inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  #pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  #pragma GCC unroll 16
  for (int i = 0; i < 4; ++i)
    #pragma GCC unroll 16
    for (int h = 0; h < 2; ++h) {
      const __m512d a = _mm512_castps_pd(t[4 * i + h]), b = _mm512_castps_pd(t[4 * i + h + 2]);
      r[4 * i + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      r[4 * i + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    }
  #pragma GCC unroll 16
  for (int i = 0; i < 2; ++i)
    #pragma GCC unroll 16
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4], 0x88);
      t[8 * i + j + 4] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + j + 4], 0xdd);
    }
  #pragma GCC unroll 16
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

// keys_t[d * kKeyPanel + p] = k_p[d] for the np <= kKeyPanel rows at k + p * ks; lanes of
// whole 16-position groups past np are left as they are (their scores are never used).
template <bool f16>
EDGELLM_AVX512_TARGET void transpose_keys(const uint8_t* k, size_t ks, int64_t np, int64_t dk, float* keys_t) {
  for (int64_t g = 0; g * kLanes < np; ++g) {
    for (int64_t d0 = 0; d0 < dk; d0 += kLanes) {
      const __mmask16 cols = first_lanes(dk - d0);
      __m512 r[kLanes];
      #pragma GCC unroll 16
      for (int i = 0; i < kLanes; ++i) {
        const int64_t p = g * kLanes + i;
        r[i] = p < np ? load16<f16>(k + static_cast<size_t>(p) * ks, d0, cols) : _mm512_setzero_ps();
      }
      transpose16(r);
      float* out = keys_t + d0 * kKeyPanel + g * kLanes;
      if (dk - d0 >= kLanes) {
        #pragma GCC unroll 16
        for (int i = 0; i < kLanes; ++i) _mm512_storeu_ps(out + i * kKeyPanel, r[i]);
      } else {
        for (int64_t i = 0; i < dk - d0; ++i) _mm512_storeu_ps(out + i * kKeyPanel, r[i]);
      }
    }
  }
}

// s[r][0..32) = scale · q_r · k_p for the panel's positions p.
template <int R>
EDGELLM_AVX512_TARGET void score_panel(const float* const* q, const float* keys_t, int64_t dk, float scale,
                                       float* const* s) {
  __m512 a[R][2];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = _mm512_setzero_ps();
  for (int64_t d = 0; d < dk; ++d) {
    const __m512 k0 = _mm512_loadu_ps(keys_t + d * kKeyPanel), k1 = _mm512_loadu_ps(keys_t + d * kKeyPanel + kLanes);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 qd = _mm512_set1_ps(q[r][d]);
      a[r][0] = _mm512_fmadd_ps(qd, k0, a[r][0]);
      a[r][1] = _mm512_fmadd_ps(qd, k1, a[r][1]);
    }
  }
  const __m512 vscale = _mm512_set1_ps(scale);
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(s[r], _mm512_mul_ps(a[r][0], vscale));
    _mm512_storeu_ps(s[r] + kLanes, _mm512_mul_ps(a[r][1], vscale));
  }
}

// acc_r[c0 + 16u + lane] += Σ_{j0 <= j < j1} w_r[j] · v_j[...] for the NV vectors of columns
// from c0 (lanes outside cols[u] untouched).
template <int R, int NV, bool f16>
EDGELLM_AVX512_TARGET void accumulate_panel(float* const* acc, const float* const* w, const uint8_t* v, size_t vs,
                                            int64_t j0, int64_t j1, int64_t c0, const __mmask16* cols) {
  __m512 a[R][NV];
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) a[r][u] = _mm512_maskz_loadu_ps(cols[u], acc[r] + c0 + kLanes * u);
  for (int64_t j = j0; j < j1; ++j) {
    const uint8_t* row = v + static_cast<size_t>(j) * vs;
    __m512 vj[NV];
    #pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) vj[u] = load16<f16>(row, c0 + kLanes * u, cols[u]);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 wj = _mm512_set1_ps(w[r][j]);
      #pragma GCC unroll 16
      for (int u = 0; u < NV; ++u) a[r][u] = _mm512_fmadd_ps(wj, vj[u], a[r][u]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) _mm512_mask_storeu_ps(acc[r] + c0 + kLanes * u, cols[u], a[r][u]);
}

// e^x for x <= 0, the polynomial of exp_nonpositive on 16 lanes.
EDGELLM_AVX512_TARGET inline __m512 exp16(__m512 x) {
  const __m512 lowest = _mm512_set1_ps(kExpLowest), round = _mm512_set1_ps(kExpRound);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lowest, _CMP_LT_OQ);
  const __m512 v = _mm512_max_ps(x, lowest);
  const __m512 shifted = _mm512_fmadd_ps(v, _mm512_set1_ps(kExpLog2e), round);
  const __m512 kf = _mm512_sub_ps(shifted, round);
  const __m512 r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(kExpLn2Lo), _mm512_fnmadd_ps(kf, _mm512_set1_ps(kExpLn2Hi), v));
  __m512 p = _mm512_set1_ps(kExpPoly[0]);
  #pragma GCC unroll 8
  for (int c = 1; c < 7; ++c) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpPoly[c]));
  const __m512i e = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(round));
  const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e, _mm512_set1_epi32(127)), 23));
  return _mm512_maskz_mul_ps(static_cast<__mmask16>(~under), p, scale);
}

// One row's online-softmax step over its first `seen` scores of the block (s, 64 floats):
// s becomes the weights e^(score - new max) (0 past seen), the row's sums so far (denom, acc)
// are rescaled to the new max. The lanes and the reduction tree are fixed, whatever `seen` is.
EDGELLM_AVX512_TARGET void softmax_row(float* s, int64_t seen, float& max, float& denom, float* acc, int64_t dv) {
  constexpr int kVectors = AttentionTile::kBlock / kLanes;
  static_assert(kVectors == 4, "the sum below adds four vectors");
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __mmask16 lanes[kVectors];
  __m512 m = neg_inf;
  #pragma GCC unroll 16
  for (int u = 0; u < kVectors; ++u) {
    lanes[u] = first_lanes(seen - kLanes * u);
    m = _mm512_mask_max_ps(m, lanes[u], m, _mm512_loadu_ps(s + kLanes * u));
  }
  const float new_max = std::max(max, _mm512_reduce_max_ps(m));
  const float correction = std::exp(max - new_max);  // e^-inf = 0 on the first block
  max = new_max;
  const __m512 vmax = _mm512_set1_ps(new_max);
  __m512 e[kVectors];
  #pragma GCC unroll 16
  for (int u = 0; u < kVectors; ++u) {
    e[u] = _mm512_maskz_mov_ps(lanes[u], exp16(_mm512_sub_ps(_mm512_loadu_ps(s + kLanes * u), vmax)));
    _mm512_storeu_ps(s + kLanes * u, e[u]);
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3]));
  denom = denom * correction + _mm512_reduce_add_ps(sum);
  if (correction == 1.0f) return;
  const __m512 factor = _mm512_set1_ps(correction);
  for (int64_t c = 0; c < dv; c += kLanes) {
    const __mmask16 cols = first_lanes(dv - c);
    _mm512_mask_storeu_ps(acc + c, cols, _mm512_mul_ps(_mm512_maskz_loadu_ps(cols, acc + c), factor));
  }
}

#undef EDGELLM_AVX512_TARGET

using ScoreFn = void (*)(const float* const*, const float*, int64_t, float, float* const*);
constexpr ScoreFn kScoreFns[kScoreRows] = {score_panel<1>, score_panel<2>, score_panel<3>, score_panel<4>,
                                           score_panel<5>, score_panel<6>, score_panel<7>, score_panel<8>};

using AccumulateFn = void (*)(float* const*, const float* const*, const uint8_t*, size_t, int64_t, int64_t,
                              int64_t, const __mmask16*);
template <int NV, bool f16>
constexpr AccumulateFn kAccumulateRows[kAccRows] = {
    accumulate_panel<1, NV, f16>, accumulate_panel<2, NV, f16>, accumulate_panel<3, NV, f16>,
    accumulate_panel<4, NV, f16>, accumulate_panel<5, NV, f16>, accumulate_panel<6, NV, f16>};
// [f16][vectors - 1][rows - 1]
constexpr const AccumulateFn* kAccumulateFns[2][4] = {
    {kAccumulateRows<1, false>, kAccumulateRows<2, false>, kAccumulateRows<3, false>, kAccumulateRows<4, false>},
    {kAccumulateRows<1, true>, kAccumulateRows<2, true>, kAccumulateRows<3, true>, kAccumulateRows<4, true>}};

// Size of group g when `count` items are split into `groups` nearly equal consecutive groups.
int64_t group_size(int64_t count, int64_t groups, int64_t g) { return count / groups + (g < count % groups ? 1 : 0); }

}  // namespace

void add_block_avx512(const TileState& t, const uint8_t* k, size_t ks, const uint8_t* v, size_t vs, bool f16,
                      int64_t pos_begin, int64_t n) {
  // Rows that see part of the block, with how much of it.
  int64_t n_active = 0;
  for (int64_t i = 0; i < t.n_rows; ++i)
    if (t.visible[i] > pos_begin) t.active[n_active++] = i;
  if (n_active == 0) return;
  auto seen = [&](int64_t row) { return std::min(n, t.visible[row] - pos_begin); };
  auto scores_of = [&](int64_t row) { return t.scores + row * AttentionTile::kBlock; };

  // 1. Scores, a panel of positions at a time.
  const float* q[kScoreRows];
  float* s[kScoreRows];
  const int64_t score_groups = (n_active + kScoreRows - 1) / kScoreRows;
  for (int64_t p0 = 0; p0 < n; p0 += kKeyPanel) {
    const uint8_t* panel = k + static_cast<size_t>(p0) * ks;
    if (f16) {
      transpose_keys<true>(panel, ks, std::min(kKeyPanel, n - p0), t.dk, t.keys_t);
    } else {
      transpose_keys<false>(panel, ks, std::min(kKeyPanel, n - p0), t.dk, t.keys_t);
    }
    for (int64_t g = 0, a0 = 0; g < score_groups; a0 += group_size(n_active, score_groups, g++)) {
      const int64_t rows = group_size(n_active, score_groups, g);
      int64_t most_seen = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t row = t.active[a0 + r];
        q[r] = t.q + static_cast<size_t>(row) * t.q_stride;
        s[r] = scores_of(row) + p0;
        most_seen = std::max(most_seen, seen(row));
      }
      if (most_seen > p0) kScoreFns[rows - 1](q, t.keys_t, t.dk, t.scale, s);
    }
  }

  // 2. Per row: weights, running maximum and denominator; rescale the sums so far.
  for (int64_t a = 0; a < n_active; ++a) {
    const int64_t row = t.active[a];
    softmax_row(scores_of(row), seen(row), t.max[row], t.denom[row], t.acc + row * t.dv, t.dv);
  }

  // 3. Weighted values: a group's rows share positions [0, fewest seen); each row then adds
  // the positions only it sees alone (the same chain per element, continued).
  float* acc[kAccRows];
  const float* w[kAccRows];
  const int64_t acc_groups = (n_active + kAccRows - 1) / kAccRows;
  for (int64_t c0 = 0; c0 < t.dv; c0 += kLanes * 4) {
    const int64_t width = std::min<int64_t>(kLanes * 4, t.dv - c0);
    const int64_t vectors = (width + kLanes - 1) / kLanes;
    __mmask16 cols[4];
    for (int64_t u = 0; u < 4; ++u) cols[u] = first_lanes(width - kLanes * u);
    const AccumulateFn* fns = kAccumulateFns[f16 ? 1 : 0][vectors - 1];
    for (int64_t g = 0, a0 = 0; g < acc_groups; a0 += group_size(n_active, acc_groups, g++)) {
      const int64_t rows = group_size(n_active, acc_groups, g);
      int64_t fewest = n;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t row = t.active[a0 + r];
        acc[r] = t.acc + row * t.dv;
        w[r] = scores_of(row);
        fewest = std::min(fewest, seen(row));
      }
      fns[rows - 1](acc, w, v, vs, 0, fewest, c0, cols);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t own = seen(t.active[a0 + r]);
        if (own > fewest) fns[0](&acc[r], &w[r], v, vs, fewest, own, c0, cols);
      }
    }
  }
}

}  // namespace edgellm::runtime::attention_kernels

#endif  // __x86_64__
