#include "runtime/attention.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "kernels/matmul.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {

namespace {

// Query tokens per work item; with the heads of a GQA group they form the rows of one tile
// (e.g. 8 tokens x 7 heads), which share every converted block of K and V rows.
constexpr int64_t kTokenTile = 8;

// IEEE half -> float, branch-free so the loop vectorizes (same construction as the F16 weight
// rows in kernels/matmul.cpp; exact for every half).
void f16_to_f32(const uint16_t* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t h = in[i];
    const uint32_t magnitude = (h & 0x7fffu) << 13;
    const uint32_t finite = std::bit_cast<uint32_t>(std::bit_cast<float>(magnitude) * 0x1p112f);
    const uint32_t special = magnitude | 0x7f800000u | ((h & 0x3ffu) != 0 ? 0x00400000u : 0u);
    const uint32_t bits = (h & 0x7c00u) == 0x7c00u ? special : finite;
    out[i] = std::bit_cast<float>(bits | ((h & 0x8000u) << 16));
  }
}

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

}  // namespace

AttentionTile::AttentionTile(int64_t max_rows, int64_t head_dim_k, int64_t head_dim_v, float scale)
    : max_rows_(max_rows), dk_(head_dim_k), dv_(head_dim_v), scale_(scale) {
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
    if (rows.type == KvType::F32) {  // F32 rows are read in place
      add_block(static_cast<const float*>(rows.k) + j0 * rows.k_stride, rows.k_stride,
                static_cast<const float*>(rows.v) + j0 * rows.v_stride, rows.v_stride, p0, n);
    } else {
      const auto* k16 = static_cast<const uint16_t*>(rows.k) + j0 * rows.k_stride;
      const auto* v16 = static_cast<const uint16_t*>(rows.v) + j0 * rows.v_stride;
      for (int64_t j = 0; j < n; ++j) {
        f16_to_f32(k16 + j * rows.k_stride, kbuf_.data() + j * dk_, dk_);
        f16_to_f32(v16 + j * rows.v_stride, vbuf_.data() + j * dv_, dv_);
      }
      add_block(kbuf_.data(), static_cast<size_t>(dk_), vbuf_.data(), static_cast<size_t>(dv_), p0, n);
    }
  }
}

// Folds positions [pos_begin, pos_begin + n) (f32 rows at k + j * ks, v + j * vs) into every
// query row.
void AttentionTile::add_block(const float* k, size_t ks, const float* v, size_t vs,
                              int64_t pos_begin, int64_t n) {
  float* s = scores_.data();
  for (int64_t i = 0; i < n_rows_; ++i) {
    const int64_t seen = std::min(n, visible_[static_cast<size_t>(i)] - pos_begin);
    if (seen <= 0) continue;
    const float* qi = q_ + static_cast<size_t>(i) * q_stride_;
    float block_max = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < seen; ++j) {
      s[j] = kernels::dot_f32(qi, k + static_cast<size_t>(j) * ks, dk_) * scale_;
      block_max = std::max(block_max, s[j]);
    }
    float& m = max_[static_cast<size_t>(i)];
    const float new_max = std::max(m, block_max);
    // Rescales the sums so far to the new maximum (e^-inf = 0 on the first block).
    const float correction = std::exp(m - new_max);
    m = new_max;
    for (int64_t j = 0; j < seen; ++j) s[j] -= new_max;
    exp_nonpositive(s, seen);
    float sum = 0.0f;
    for (int64_t j = 0; j < seen; ++j) sum += s[j];
    float& l = denom_[static_cast<size_t>(i)];
    l = l * correction + sum;
    float* acc = acc_.data() + i * dv_;
    if (correction != 1.0f)
      for (int64_t d = 0; d < dv_; ++d) acc[d] *= correction;
    for (int64_t j = 0; j < seen; ++j) {
      const float w = s[j];
      const float* vj = v + static_cast<size_t>(j) * vs;
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
  pool.parallel_for(s.n_head_kv * n_tiles, 1, [&](int64_t item_begin, int64_t item_end) {
    AttentionTile tile(kTokenTile * group, s.head_dim_k, s.head_dim_v, s.scale);
    std::vector<int64_t> visible(static_cast<size_t>(kTokenTile * group));
    std::vector<float> q_rows(static_cast<size_t>(kTokenTile * group * s.head_dim_k));
    std::vector<float> o_rows(static_cast<size_t>(kTokenTile * group * s.head_dim_v));
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
