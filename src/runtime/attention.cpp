#include "runtime/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/simd/kernels.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {

namespace {

// Query tokens per work item; with the heads of a GQA group they form the rows of one tile
// (e.g. 8 tokens x 7 heads), which share every converted block of K and V rows.
constexpr int64_t kTokenTile = 8;

// e^x for x <= 0 (scores minus their running maximum), vectorizable: x = n·ln2 + r with
// |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error < 2e-7, below float
// rounding of the later sums), 2^n built in the exponent bits. Inputs below -87 (where e^x is
// under the smallest normal float, 2^-126) give 0.
void exp_nonpositive(float* x, int64_t n) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;  // ln 2 split so n·kLn2Hi is exact
  constexpr float kLn2Lo = 1.428606765330187e-06f;
  constexpr float kRound = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] < -87.0f ? -87.0f : x[i];
    const float shifted = v * kLog2e + kRound;
    const float k = shifted - kRound;
    const float r = (v - k * kLn2Hi) - k * kLn2Lo;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const int32_t e = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kRound);
    const float scale = std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23);
    x[i] = x[i] < -87.0f ? 0.0f : p * scale;
  }
}

// The two inner loops of a block on x86 with AVX2 + FMA + F16C (checked at run time through
// the kernel level, so EDGELLM_ISA=scalar also selects the portable loops), reading F16 or F32
// rows in place. Rows are at base + j * stride bytes.
#if defined(__x86_64__)
#define EDGELLM_ATTENTION_X86 1
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
__attribute__((target("avx2,fma,f16c"))) void scores_x86(const float* q, const uint8_t* k, size_t stride,
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
__attribute__((target("avx2,fma,f16c"))) void accumulate_x86(float* acc, const float* w, const uint8_t* v,
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

__attribute__((target("avx2,fma,f16c"))) float max_x86(const float* s, int64_t n) {
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
__attribute__((target("avx2,fma,f16c"))) float exp_sum_x86(float* s, int64_t n, float max) {
  const __m256 vmax = _mm256_set1_ps(max), lowest = _mm256_set1_ps(-87.0f);
  const __m256 log2e = _mm256_set1_ps(1.44269504088896341f), round = _mm256_set1_ps(12582912.0f);
  const __m256 ln2_hi = _mm256_set1_ps(0.693145751953125f), ln2_lo = _mm256_set1_ps(1.428606765330187e-06f);
  __m256 total = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 x = _mm256_sub_ps(_mm256_loadu_ps(s + j), vmax);
    const __m256 under = _mm256_cmp_ps(x, lowest, _CMP_LT_OQ);
    const __m256 v = _mm256_max_ps(x, lowest);
    const __m256 shifted = _mm256_fmadd_ps(v, log2e, round);
    const __m256 kf = _mm256_sub_ps(shifted, round);
    const __m256 r = _mm256_fnmadd_ps(kf, ln2_lo, _mm256_fnmadd_ps(kf, ln2_hi, v));
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
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
#endif

bool use_x86_loops() {
#ifdef EDGELLM_ATTENTION_X86
  const kernels::Isa isa = kernels::active().isa;
  return isa == kernels::Isa::Avx2 || isa == kernels::Isa::Avx512 || isa == kernels::Isa::Avx512Vnni;
#else
  return false;
#endif
}

}  // namespace

AttentionTile::AttentionTile(int64_t max_rows, int64_t head_dim_k, int64_t head_dim_v, float scale)
    : max_rows_(max_rows), dk_(head_dim_k), dv_(head_dim_v), scale_(scale), simd_(use_x86_loops()) {
  if (max_rows <= 0 || head_dim_k <= 0 || head_dim_v <= 0)
    fail("attention tile: bad shape ({} rows, head dims {} / {})", max_rows, head_dim_k, head_dim_v);
  const auto rows = static_cast<size_t>(max_rows);
  visible_.resize(rows);
  max_.resize(rows);
  denom_.resize(rows);
  acc_.resize(rows * static_cast<size_t>(dv_));
  kbuf_.resize(static_cast<size_t>(kBlock * dk_));
  vbuf_.resize(static_cast<size_t>(kBlock * dv_));
  scores_.resize(static_cast<size_t>(kBlock));
}

void AttentionTile::begin(const float* q, size_t q_stride, int64_t n_rows, const int64_t* n_visible) {
  if (n_rows < 0 || n_rows > max_rows_) fail("attention tile: {} rows exceed its {}", n_rows, max_rows_);
  q_ = q;
  q_stride_ = q_stride;
  n_rows_ = n_rows;
  std::copy(n_visible, n_visible + n_rows, visible_.begin());
  std::fill(max_.begin(), max_.end(), -std::numeric_limits<float>::infinity());
  std::fill(denom_.begin(), denom_.end(), 0.0f);
  std::fill(acc_.begin(), acc_.end(), 0.0f);
}

void AttentionTile::add(const KvRows& rows) {
  if (rows.n_pos < 0 || rows.pos_begin < 0) fail("attention tile: bad KV run at {}+{}", rows.pos_begin, rows.n_pos);
  const int64_t last_visible = n_rows_ == 0 ? 0 : *std::max_element(visible_.begin(), visible_.begin() + n_rows_);
  const int64_t end = std::min(rows.pos_begin + rows.n_pos, last_visible);
  for (int64_t p0 = rows.pos_begin; p0 < end; p0 += kBlock) {
    const int64_t n = std::min(kBlock, end - p0);
    const auto j0 = static_cast<size_t>(p0 - rows.pos_begin);
    const size_t elem = rows.type == KvType::F16 ? 2 : 4;
    const auto* k = static_cast<const uint8_t*>(rows.k) + j0 * rows.k_stride * elem;
    const auto* v = static_cast<const uint8_t*>(rows.v) + j0 * rows.v_stride * elem;
    if (simd_ || rows.type == KvType::F32) {  // rows read in place
      add_block(k, rows.k_stride * elem, v, rows.v_stride * elem, rows.type == KvType::F16, p0, n);
    } else {  // portable loops: F16 rows converted once per block
      const kernels::KernelSet& ks = kernels::active();
      for (int64_t j = 0; j < n; ++j) {
        ks.f16_to_f32(reinterpret_cast<const uint16_t*>(k + j * rows.k_stride * 2), kbuf_.data() + j * dk_, dk_);
        ks.f16_to_f32(reinterpret_cast<const uint16_t*>(v + j * rows.v_stride * 2), vbuf_.data() + j * dv_, dv_);
      }
      add_block(reinterpret_cast<const uint8_t*>(kbuf_.data()), static_cast<size_t>(dk_) * 4,
                reinterpret_cast<const uint8_t*>(vbuf_.data()), static_cast<size_t>(dv_) * 4, false, p0, n);
    }
  }
}

// Folds positions [pos_begin, pos_begin + n) (rows at k + j * ks, v + j * vs bytes; F16 or F32)
// into every query row. The portable loops only see F32 rows.
void AttentionTile::add_block(const uint8_t* k, size_t ks, const uint8_t* v, size_t vs, bool f16,
                              int64_t pos_begin, int64_t n) {
  (void)f16;  // only the x86 loops read F16 rows in place
  float* s = scores_.data();
  for (int64_t i = 0; i < n_rows_; ++i) {
    const int64_t seen = std::min(n, visible_[static_cast<size_t>(i)] - pos_begin);
    if (seen <= 0) continue;
    const float* qi = q_ + static_cast<size_t>(i) * q_stride_;
#ifdef EDGELLM_ATTENTION_X86
    if (simd_) {
      if (f16) {
        scores_x86<true>(qi, k, ks, seen, dk_, scale_, s);
      } else {
        scores_x86<false>(qi, k, ks, seen, dk_, scale_, s);
      }
    } else
#endif
    {
      for (int64_t j = 0; j < seen; ++j)
        s[j] = kernels::dot_f32(qi, reinterpret_cast<const float*>(k + static_cast<size_t>(j) * ks), dk_) * scale_;
    }
#ifdef EDGELLM_ATTENTION_X86
    const float block_max = simd_ ? max_x86(s, seen) : *std::max_element(s, s + seen);
#else
    const float block_max = *std::max_element(s, s + seen);
#endif
    float& m = max_[static_cast<size_t>(i)];
    const float new_max = std::max(m, block_max);
    // Rescales the sums so far to the new maximum (e^-inf = 0 on the first block).
    const float correction = std::exp(m - new_max);
    m = new_max;
    float sum = 0.0f;
#ifdef EDGELLM_ATTENTION_X86
    if (simd_) {
      sum = exp_sum_x86(s, seen, new_max);
    } else
#endif
    {
      for (int64_t j = 0; j < seen; ++j) s[j] -= new_max;
      exp_nonpositive(s, seen);
      for (int64_t j = 0; j < seen; ++j) sum += s[j];
    }
    float& l = denom_[static_cast<size_t>(i)];
    l = l * correction + sum;
    float* acc = acc_.data() + i * dv_;
    if (correction != 1.0f)
      for (int64_t d = 0; d < dv_; ++d) acc[d] *= correction;
#ifdef EDGELLM_ATTENTION_X86
    if (simd_) {
      if (f16) {
        accumulate_x86<true>(acc, s, v, vs, seen, dv_);
      } else {
        accumulate_x86<false>(acc, s, v, vs, seen, dv_);
      }
      continue;
    }
#endif
    for (int64_t j = 0; j < seen; ++j) {
      const float w = s[j];
      const auto* vj = reinterpret_cast<const float*>(v + static_cast<size_t>(j) * vs);
      for (int64_t d = 0; d < dv_; ++d) acc[d] += w * vj[d];
    }
  }
}

void AttentionTile::finish(float* out, size_t out_stride) {
  for (int64_t i = 0; i < n_rows_; ++i) {
    const float l = denom_[static_cast<size_t>(i)];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const float* acc = acc_.data() + i * dv_;
    float* o = out + static_cast<size_t>(i) * out_stride;
    for (int64_t d = 0; d < dv_; ++d) o[d] = acc[d] * inv;
  }
}

void attention(const AttentionShape& s, const KvCache& kv, int layer, const float* q,
               int64_t pos0, int64_t n_tokens, float* out, ThreadPool& pool) {
  if (s.n_head <= 0 || s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0)
    fail("attention: {} query heads cannot be grouped over {} KV heads", s.n_head, s.n_head_kv);
  if (s.head_dim_k <= 0 || s.head_dim_v <= 0)
    fail("attention: head dimensions {} / {} must be positive", s.head_dim_k, s.head_dim_v);
  const KvLayerShape& ks = kv.shape(layer);
  if (ks.k_width < s.n_head_kv * s.head_dim_k || ks.v_width < s.n_head_kv * s.head_dim_v)
    fail("attention: KV cache rows of layer {} are narrower than {} heads", layer, s.n_head_kv);
  if (pos0 < 0 || pos0 + n_tokens > kv.n_ctx())
    fail("attention: positions {}..{} exceed the context of {}", pos0, pos0 + n_tokens - 1, kv.n_ctx());
  if (n_tokens <= 0) return;

  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t n_tiles = (n_tokens + kTokenTile - 1) / kTokenTile;
  const int64_t q_stride = s.n_head * s.head_dim_k;
  const int64_t o_stride = s.n_head * s.head_dim_v;
  const size_t elem = kv.type() == KvType::F16 ? 2 : 4;
  const auto* k_base = static_cast<const uint8_t*>(kv.key_data(layer));
  const auto* v_base = static_cast<const uint8_t*>(kv.value_data(layer));

  // Items are (KV head, token tile), tiles of one head adjacent. Later tiles see more positions
  // (causal), so a static split of whole heads balances best when heads >= threads.
  // Buffers sized for the tokens there are (one while decoding), not a full tile.
  const int64_t tile_rows = std::min(kTokenTile, n_tokens) * group;
  pool.parallel_for(s.n_head_kv * n_tiles, 1, [&](int64_t item_begin, int64_t item_end) {
    AttentionTile tile(tile_rows, s.head_dim_k, s.head_dim_v, s.scale);
    std::vector<int64_t> visible(static_cast<size_t>(tile_rows));
    std::vector<float> q_rows(static_cast<size_t>(tile_rows * s.head_dim_k));
    std::vector<float> o_rows(static_cast<size_t>(tile_rows * s.head_dim_v));
    for (int64_t item = item_begin; item < item_end; ++item) {
      const int64_t g = item / n_tiles;
      const int64_t t0 = (item % n_tiles) * kTokenTile;
      const int64_t nt = std::min(kTokenTile, n_tokens - t0);
      // Tile rows are (token, head of the group): gather the query rows contiguously.
      for (int64_t t = 0; t < nt; ++t)
        for (int64_t h = 0; h < group; ++h) {
          const int64_t row = t * group + h;
          const float* src = q + (t0 + t) * q_stride + (g * group + h) * s.head_dim_k;
          std::copy(src, src + s.head_dim_k, q_rows.data() + row * s.head_dim_k);
          visible[static_cast<size_t>(row)] = pos0 + t0 + t + 1;
        }
      tile.begin(q_rows.data(), static_cast<size_t>(s.head_dim_k), nt * group, visible.data());
      KvRows rows;
      rows.type = kv.type();
      rows.k = k_base + static_cast<size_t>(g * s.head_dim_k) * elem;
      rows.k_stride = static_cast<size_t>(ks.k_width);
      rows.v = v_base + static_cast<size_t>(g * s.head_dim_v) * elem;
      rows.v_stride = static_cast<size_t>(ks.v_width);
      rows.pos_begin = 0;
      rows.n_pos = pos0 + t0 + nt;
      tile.add(rows);
      tile.finish(o_rows.data(), static_cast<size_t>(s.head_dim_v));
      for (int64_t t = 0; t < nt; ++t)
        for (int64_t h = 0; h < group; ++h) {
          const float* src = o_rows.data() + (t * group + h) * s.head_dim_v;
          std::copy(src, src + s.head_dim_v, out + (t0 + t) * o_stride + (g * group + h) * s.head_dim_v);
        }
    }
  });
}

}  // namespace edgellm::runtime
