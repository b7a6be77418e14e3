#include "runtime/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/simd/kernels.h"
#include "runtime/attention_kernels.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {

namespace {

// Query tokens per work item; with the heads of a GQA group they form the rows of one tile
// (e.g. 8 tokens x 7 heads), which share every converted block of K and V rows.
constexpr int64_t kTokenTile = 8;

namespace ak = attention_kernels;

AttentionTile::Loops loops_for_kernel_level() {
#ifdef EDGELLM_ATTENTION_X86
  switch (kernels::active().isa) {
    case kernels::Isa::Avx2:
    case kernels::Isa::AvxVnni:
      return AttentionTile::Loops::Avx2;
    case kernels::Isa::Avx512:
    case kernels::Isa::Avx512Vnni:
      return AttentionTile::Loops::Avx512;
    default:
      break;
  }
#endif
  return AttentionTile::Loops::Portable;
}

// The buffers of the last tile destroyed on this thread. Callers make a tile per dispatch (per
// layer and token while decoding), where allocating and zeroing its buffers afresh is a fair
// part of a short context's attention: an MLA tile (8 heads, 576-wide keys) over 1 / 32
// positions took 3.1 / 4.6 us made fresh, 2.4 / 3.9 us with the buffers kept (one tile per
// thread on 2 threads: 3.6 -> 2.9 us at 1 position).
struct SpareTileBuffers {
  AttentionTile::Buffers buffers;
  bool held = false;
};
thread_local SpareTileBuffers spare_tile_buffers;
}  // namespace

AttentionTile::AttentionTile(int64_t max_rows, int64_t head_dim_k, int64_t head_dim_v, float scale)
    : max_rows_(max_rows), dk_(head_dim_k), dv_(head_dim_v), scale_(scale), loops_(loops_for_kernel_level()) {
  if (max_rows <= 0 || head_dim_k <= 0 || head_dim_v <= 0)
    fail("attention tile: bad shape ({} rows, head dims {} / {})", max_rows, head_dim_k, head_dim_v);
  if (spare_tile_buffers.held) {
    b_ = std::move(spare_tile_buffers.buffers);
    spare_tile_buffers.held = false;
  }
  const auto rows = static_cast<size_t>(max_rows);
  b_.visible.resize(rows);
  b_.max.resize(rows);
  b_.denom.resize(rows);
  b_.acc.resize(rows * static_cast<size_t>(dv_));
  // Only the buffers the loops use: F16 rows converted per block (portable), the transposed
  // key panel (AVX-512); the AVX2 loops read the rows in place.
  if (loops_ == Loops::Portable) {
    b_.kbuf.resize(static_cast<size_t>(kBlock * dk_));
    b_.vbuf.resize(static_cast<size_t>(kBlock * dv_));
  }
#ifdef EDGELLM_ATTENTION_X86
  if (loops_ == Loops::Avx512) b_.kbuf.resize(static_cast<size_t>(ak::kKeyPanel * dk_));
#endif
  b_.scores.resize(rows * static_cast<size_t>(kBlock));
  b_.active.resize(rows);
}

AttentionTile::~AttentionTile() {
  if (!spare_tile_buffers.held) {
    spare_tile_buffers.buffers = std::move(b_);
    spare_tile_buffers.held = true;
  }
}

void AttentionTile::begin(const float* q, size_t q_stride, int64_t n_rows, const int64_t* n_visible) {
  if (n_rows < 0 || n_rows > max_rows_) fail("attention tile: {} rows exceed its {}", n_rows, max_rows_);
  q_ = q;
  q_stride_ = q_stride;
  n_rows_ = n_rows;
  std::copy(n_visible, n_visible + n_rows, b_.visible.begin());
  std::fill(b_.max.begin(), b_.max.end(), -std::numeric_limits<float>::infinity());
  std::fill(b_.denom.begin(), b_.denom.end(), 0.0f);
  std::fill(b_.acc.begin(), b_.acc.end(), 0.0f);
}

void AttentionTile::add(const KvRows& rows) {
  if (rows.n_pos < 0 || rows.pos_begin < 0) fail("attention tile: bad KV run at {}+{}", rows.pos_begin, rows.n_pos);
  const int64_t last_visible = n_rows_ == 0 ? 0 : *std::max_element(b_.visible.begin(), b_.visible.begin() + n_rows_);
  const int64_t end = std::min(rows.pos_begin + rows.n_pos, last_visible);
  for (int64_t p0 = rows.pos_begin; p0 < end; p0 += kBlock) {
    const int64_t n = std::min(kBlock, end - p0);
    const auto j0 = static_cast<size_t>(p0 - rows.pos_begin);
    const size_t elem = rows.type == KvType::F16 ? 2 : 4;
    const auto* k = static_cast<const uint8_t*>(rows.k) + j0 * rows.k_stride * elem;
    const auto* v = static_cast<const uint8_t*>(rows.v) + j0 * rows.v_stride * elem;
    if (loops_ != Loops::Portable || rows.type == KvType::F32) {  // rows read in place
      add_block(k, rows.k_stride * elem, v, rows.v_stride * elem, rows.type == KvType::F16, p0, n);
    } else {  // portable loops: F16 rows converted once per block
      kv_rows_to_f32(rows.type, k, rows.k_stride, n, dk_, b_.kbuf.data(), static_cast<size_t>(dk_));
      kv_rows_to_f32(rows.type, v, rows.v_stride, n, dv_, b_.vbuf.data(), static_cast<size_t>(dv_));
      add_block(reinterpret_cast<const uint8_t*>(b_.kbuf.data()), static_cast<size_t>(dk_) * 4,
                reinterpret_cast<const uint8_t*>(b_.vbuf.data()), static_cast<size_t>(dv_) * 4, false, p0, n);
    }
  }
}

// Folds positions [pos_begin, pos_begin + n) (rows at k + j * ks, v + j * vs bytes; F16 or F32)
// into every query row. The portable loops only see F32 rows.
void AttentionTile::add_block(const uint8_t* k, size_t ks, const uint8_t* v, size_t vs, bool f16,
                              int64_t pos_begin, int64_t n) {
#ifdef EDGELLM_ATTENTION_X86
  if (loops_ == Loops::Avx512) {
    const ak::TileState state{.q = q_, .q_stride = q_stride_, .n_rows = n_rows_, .visible = b_.visible.data(),
                              .dk = dk_, .dv = dv_, .scale = scale_, .max = b_.max.data(), .denom = b_.denom.data(),
                              .acc = b_.acc.data(), .scores = b_.scores.data(), .keys_t = b_.kbuf.data(),
                              .active = b_.active.data()};
    ak::add_block_avx512(state, k, ks, v, vs, f16, pos_begin, n);
    return;
  }
  const bool avx2 = loops_ == Loops::Avx2;
#else
  (void)f16;  // only the x86 loops read F16 rows in place
#endif
  // One row at a time.
  float* s = b_.scores.data();
  for (int64_t i = 0; i < n_rows_; ++i) {
    const int64_t seen = std::min(n, b_.visible[static_cast<size_t>(i)] - pos_begin);
    if (seen <= 0) continue;
    const float* qi = q_ + static_cast<size_t>(i) * q_stride_;
    float* acc = b_.acc.data() + i * dv_;
    float& m = b_.max[static_cast<size_t>(i)];
    float& l = b_.denom[static_cast<size_t>(i)];
#ifdef EDGELLM_ATTENTION_X86
    if (avx2) {
      ak::scores_avx2(qi, k, ks, seen, dk_, scale_, s, f16);
      const float new_max = std::max(m, ak::max_avx2(s, seen));
      const float correction = std::exp(m - new_max);  // e^-inf = 0 on the first block
      m = new_max;
      l = l * correction + ak::exp_sum_avx2(s, seen, new_max);
      if (correction != 1.0f)
        for (int64_t d = 0; d < dv_; ++d) acc[d] *= correction;
      ak::accumulate_avx2(acc, s, v, vs, seen, dv_, f16);
      continue;
    }
#endif
    for (int64_t j = 0; j < seen; ++j)
      s[j] = kernels::dot_f32(qi, reinterpret_cast<const float*>(k + static_cast<size_t>(j) * ks), dk_) * scale_;
    const float new_max = std::max(m, *std::max_element(s, s + seen));
    // Rescales the sums so far to the new maximum (e^-inf = 0 on the first block).
    const float correction = std::exp(m - new_max);
    m = new_max;
    float sum = 0.0f;
    for (int64_t j = 0; j < seen; ++j) s[j] -= new_max;
    ak::exp_nonpositive(s, seen);
    for (int64_t j = 0; j < seen; ++j) sum += s[j];
    l = l * correction + sum;
    if (correction != 1.0f)
      for (int64_t d = 0; d < dv_; ++d) acc[d] *= correction;
    for (int64_t j = 0; j < seen; ++j) {
      const float w = s[j];
      const auto* vj = reinterpret_cast<const float*>(v + static_cast<size_t>(j) * vs);
      for (int64_t d = 0; d < dv_; ++d) acc[d] += w * vj[d];
    }
  }
}

void AttentionTile::finish(float* out, size_t out_stride) {
  for (int64_t i = 0; i < n_rows_; ++i) {
    const float l = b_.denom[static_cast<size_t>(i)];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    const float* acc = b_.acc.data() + i * dv_;
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
