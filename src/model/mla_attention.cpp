#include "model/mla_attention.h"

#include <algorithm>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "model/grouped_matmul.h"
#include "model/weights.h"
#include "runtime/attention.h"
#include "runtime/batch_attention.h"
#include "runtime/kv_cache.h"
#include "runtime/scratch.h"
#include "runtime/thread_pool.h"

namespace edgellm::model {

namespace {

namespace tn = gguf::tensor;
using gguf::block_tensor;

// Scratch slots of the attention (below the MoE FFN's 16.., the session's 32..).
enum Slot : size_t { kQ = 2, kQA, kKv, kO, kKeys, kKpe, kQAbs, kOLat, kActivations };

size_t sz(int64_t n) { return static_cast<size_t>(n); }

// y (n × w.cols) = x (n × w.rows) · W: the product with the weight's transpose orientation,
// for per-head matrices stored the other way round. Serial (called per head by a worker).
void matmul_xw(const kernels::WeightMatrix& w, const float* x, int64_t n, float* y) {
  std::vector<float> row(sz(w.cols));
  std::fill(y, y + n * w.cols, 0.0f);
  for (int64_t r = 0; r < w.rows; ++r) {
    kernels::dequantize_weight_row(w, r, row.data());
    for (int64_t t = 0; t < n; ++t) {
      const float a = x[t * w.rows + r];
      float* yt = y + t * w.cols;
      for (int64_t c = 0; c < w.cols; ++c) yt[c] += a * row[sz(c)];
    }
  }
}

// y = x · Wᵀ, serially (inside a worker of the shared pool).
void matmul_serial(const kernels::WeightMatrix& w, const float* x, int64_t n, float* y) {
  runtime::ThreadPool inline_pool(1);  // runs on the calling thread, no extra thread
  kernels::matmul(w, x, n, y, inline_pool);
}

}  // namespace

MlaWeights load_mla_weights(const WeightLoader& w, const MlaParams& p, int i) {
  const int64_t H = p.n_head, dk = p.head_dim_k(), L = p.kv_lora_rank;
  const int64_t nope = p.head_dim_nope, R = p.head_dim_rope, V = p.head_dim_v;
  MlaWeights m;
  if (p.q_lora_rank > 0) {
    m.wq_a = w.projection(block_tensor(i, tn::kAttnQA), p.q_lora_rank, p.n_embd);
    m.q_a_norm = w.vector(block_tensor(i, tn::kAttnQANorm), p.q_lora_rank);
    m.wq_b = w.projection(block_tensor(i, tn::kAttnQB), H * dk, p.q_lora_rank);
  } else {
    m.wq = w.projection(block_tensor(i, tn::kAttnQ), H * dk, p.n_embd);
  }
  m.wkv_a = w.projection(block_tensor(i, tn::kAttnKvAMqa), L + R, p.n_embd);
  m.kv_a_norm = w.vector(block_tensor(i, tn::kAttnKvANorm), L);
  if (p.split_kv_b) {
    // Per head W_UKᵀ and W_UV, repacked into panels where the kernels read them faster (the
    // absorbed order multiplies them for every token; a prompt of 128 spent ~6% in per-call
    // panel transposes of the rows).
    m.uk = w.stacked_projections(block_tensor(i, tn::kAttnKB), H, L, nope);
    m.uv = w.stacked_projections(block_tensor(i, tn::kAttnVB), H, V, L);
    m.uk_transposed = true;
  } else {
    const kernels::WeightMatrix kv_b = w.matrix(block_tensor(i, tn::kAttnKvB), H * (nope + V), L);
    for (int64_t h = 0; h < H; ++h) {
      m.uk.push_back({kv_b.type, nope, L, kv_b.row(h * (nope + V))});
      m.uv.push_back({kv_b.type, V, L, kv_b.row(h * (nope + V) + nope)});
    }
    m.uk_transposed = false;
  }
  m.wo = w.projection(block_tensor(i, tn::kAttnOutput), p.n_embd, H * V);
  return m;
}

MlaAttention::MlaAttention(const MlaParams& params, MlaWeights weights)
    : p_(params), w_(std::move(weights)) {}

MlaPath MlaAttention::choose_path(int64_t pos0, int64_t n) const {
  // Multiply-adds of each order for this batch (H heads, L latent, R rope, V value widths):
  //   absorbed:     n·H·nope·L (absorb q) + pairs·H·(2L + R) + n·H·V·L (W_UV after attention)
  //   decompressed: P·H·(nope + V)·L (expand every cached latent) + pairs·H·(nope + R + V)
  // with P = pos0 + n cached positions and pairs = Σ_t (pos0 + t + 1) query/key pairs.
  const double H = static_cast<double>(p_.n_head), L = static_cast<double>(p_.kv_lora_rank);
  const double R = static_cast<double>(p_.head_dim_rope), V = static_cast<double>(p_.head_dim_v);
  const double nope = static_cast<double>(p_.head_dim_nope);
  const double nd = static_cast<double>(n), P = static_cast<double>(pos0 + n);
  const double pairs = nd * static_cast<double>(pos0) + nd * (nd + 1.0) / 2.0;
  const double absorbed = nd * H * nope * L + pairs * H * (2.0 * L + R) + nd * H * V * L;
  const double decompressed = P * H * (nope + V) * L + pairs * H * (nope + R + V);
  // Its per-head serial products and copies cost more per multiply-add than the absorbed
  // order's pooled ones. With F32 weights bench/mla_bench (V2-Lite shape, 1 thread) puts the
  // crossover of a fresh prompt at ~64 tokens (16: absorbed 12.1 vs 14.1 ms; 64: 48.1 vs 47.4;
  // 256: 206 vs 185): a factor 1.2. A quantized W_UK stored transposed (attn_k_b) is expanded
  // through an F32 product per head while the absorbed order multiplies it in int8: V2-Lite Q4_0
  // (edgellm bench, 1 thread, prompts of 64 / 256 / 512 / 1024 tokens) absorbed 120 / 113 / 107 /
  // 92 t/s, decompressed 89 / 103 / 108 / 102, a crossover near 512 tokens: a factor 1.95.
  const bool f32_expansion = w_.uk_transposed && !w_.uk.empty() && !is_float_type(w_.uk.front().type);
  const double overhead = f32_expansion ? 1.95 : 1.2;
  return overhead * decompressed < absorbed ? MlaPath::Decompressed : MlaPath::Absorbed;
}

void MlaAttention::forward(int layer, const float* x, float* out, LayerContext& ctx,
                           MlaPath path) const {
  const int64_t n = ctx.n_tokens, H = p_.n_head, dk = p_.head_dim_k(), L = p_.kv_lora_rank;
  const int64_t R = p_.head_dim_rope, W = p_.cache_width();
  float* q = ctx.scratch.get(kQ, sz(n * H * dk));
  // The cache row [rmsnorm(c) | RoPE(k_pe)] is built in place in the W_KVA output.
  float* kv = ctx.scratch.get(kKv, sz(n * W));
  float* qa = w_.wq.empty() ? ctx.scratch.get(kQA, sz(n * p_.q_lora_rank)) : nullptr;
  // Both projections of x in one pool dispatch, x quantized once.
  const MatmulTask x_tasks[] = {
      w_.wq.empty() ? MatmulTask{w_.wq_a, x, p_.n_embd, n, qa, p_.q_lora_rank} : MatmulTask{w_.wq, x, p_.n_embd, n, q, H * dk},
      MatmulTask{w_.wkv_a, x, p_.n_embd, n, kv, W}};
  grouped_matmul(x_tasks, ctx.scratch, kActivations, ctx.pool);
  if (w_.wq.empty()) {
    const int64_t rank = p_.q_lora_rank;
    runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        kernels::rms_norm(qa + t * rank, w_.q_a_norm.data(), qa + t * rank, rank, p_.rms_eps);
    });
    kernels::matmul(w_.wq_b, qa, n, q, ctx.pool);
  }
  const int64_t pairs = ctx.rope.n_pairs();
  runtime::for_tokens(ctx.pool, n, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* cos = ctx.rope_cos + t * pairs;
      const float* sin = ctx.rope_sin + t * pairs;
      float* row = kv + t * W;
      kernels::rms_norm(row, w_.kv_a_norm.data(), row, L, p_.rms_eps);
      ctx.rope.apply(row + L, 1, R, cos, sin);
      ctx.rope.apply(q + t * H * dk + p_.head_dim_nope, H, dk, cos, sin);
    }
  });
  float* o = ctx.scratch.get(kO, sz(n * H * p_.head_dim_v));
  if (ctx.batch != nullptr) {
    attend_batch(layer, q, kv, o, ctx);
  } else {
    ctx.kv.store(layer, ctx.pos0, n, kv, nullptr);
    if (path == MlaPath::Absorbed) {
      attend_absorbed(layer, q, o, ctx);
    } else {
      const auto read = [&](int64_t n_pos, int64_t col, int64_t n_cols, float* rows) {
        ctx.kv.read_k(layer, n_pos, col, n_cols, rows);
      };
      attend_decompressed(q, n, ctx.pos0, read, o, ctx);
    }
  }
  kernels::matmul(w_.wo, o, n, out, ctx.pool);
}

void MlaAttention::absorb_queries(const float* q, int64_t n, float* qw, LayerContext& ctx) const {
  const int64_t H = p_.n_head, dk = p_.head_dim_k(), L = p_.kv_lora_rank;
  const int64_t nope = p_.head_dim_nope, R = p_.head_dim_rope, W = p_.cache_width();
  if (w_.uk_transposed) {
    // All heads' W_UKᵀ q_nope in one dispatch, written straight into the rows of qw.
    std::vector<MatmulTask> tasks;
    for (int64_t h = 0; h < H; ++h) tasks.push_back({w_.uk[sz(h)], q + h * dk, H * dk, n, qw + h * W, H * W});
    grouped_matmul(tasks, ctx.scratch, kActivations, ctx.pool);
  } else {
    ctx.pool.parallel_for(H, 1, [&](int64_t h0, int64_t h1) {
      std::vector<float> qn(sz(n * nope)), qabs(sz(n * L));
      for (int64_t h = h0; h < h1; ++h) {
        for (int64_t t = 0; t < n; ++t) {
          const float* src = q + (t * H + h) * dk;
          std::copy(src, src + nope, qn.data() + t * nope);
        }
        matmul_xw(w_.uk[sz(h)], qn.data(), n, qabs.data());
        for (int64_t t = 0; t < n; ++t)
          std::copy(qabs.data() + t * L, qabs.data() + (t + 1) * L, qw + (t * H + h) * W);
      }
    });
  }
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      const float* pe = q + (t * H + h) * dk + nope;
      std::copy(pe, pe + R, qw + (t * H + h) * W + L);
    }
  }
}

void MlaAttention::values_from_latent(const float* ol, int64_t n, float* o, LayerContext& ctx) const {
  const int64_t H = p_.n_head, L = p_.kv_lora_rank, V = p_.head_dim_v;
  std::vector<MatmulTask> tasks;
  for (int64_t h = 0; h < H; ++h) tasks.push_back({w_.uv[sz(h)], ol + h * L, H * L, n, o + h * V, H * V});
  grouped_matmul(tasks, ctx.scratch, kActivations, ctx.pool);
}

void MlaAttention::attend_absorbed(int layer, const float* q, float* o, LayerContext& ctx) const {
  const int64_t n = ctx.n_tokens, H = p_.n_head, L = p_.kv_lora_rank, W = p_.cache_width();
  // 1. Queries into latent space: per head [W_UKᵀ q_nope | q_pe], width W like a cache row.
  float* qw = ctx.scratch.get(kQAbs, sz(n * H * W));
  absorb_queries(q, n, qw, ctx);

  // 2. Attention of every (token, head) over the cached rows; the values are the latents (the
  // first L columns of the same rows). A tile holds up to kHeadsPerTile heads of one token:
  // they share every block of cache rows, read in place (F16 or F32) by the online-softmax
  // AttentionTile, so the cache is read once per tile rather than once per head.
  float* ol = ctx.scratch.get(kOLat, sz(n * H * L));
  constexpr int64_t kHeadsPerTile = 8;
  const int64_t head_groups = (H + kHeadsPerTile - 1) / kHeadsPerTile;
  runtime::KvRows rows;
  rows.type = ctx.kv.type();
  rows.k = rows.v = ctx.kv.key_data(layer);
  rows.k_stride = rows.v_stride = sz(W);
  ctx.pool.parallel_for(n * head_groups, 1, [&](int64_t i0, int64_t i1) {
    runtime::AttentionTile tile(kHeadsPerTile, W, L, p_.kq_scale);
    std::vector<int64_t> visible(sz(kHeadsPerTile));
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t t = item / head_groups, h0 = (item % head_groups) * kHeadsPerTile;
      const int64_t nh = std::min(kHeadsPerTile, H - h0);
      std::fill(visible.begin(), visible.end(), ctx.pos0 + t + 1);
      tile.begin(qw + (t * H + h0) * W, sz(W), nh, visible.data());
      runtime::KvRows run = rows;
      run.n_pos = ctx.pos0 + t + 1;
      tile.add(run);
      tile.finish(ol + (t * H + h0) * L, sz(L));
    }
  });

  // 3. Values out of latent space: o_h = W_UV_h · (attention-weighted latent), all heads in
  // one dispatch.
  values_from_latent(ol, n, o, ctx);
}

void MlaAttention::attend_batch(int layer, const float* q, const float* kv, float* o, LayerContext& ctx) const {
  runtime::BatchAttention& batch = *ctx.batch;
  const int64_t n = ctx.n_tokens, H = p_.n_head, dk = p_.head_dim_k(), L = p_.kv_lora_rank;
  const int64_t W = p_.cache_width(), V = p_.head_dim_v;
  const std::span<const runtime::BatchAttention::Segment> segs = batch.segments();
  // Each sequence in its cheaper order: decode steps absorbed, a prompt expanded.
  const std::unique_ptr<bool[]> absorbed(new bool[segs.size()]);
  bool any_absorbed = false;
  for (size_t i = 0; i < segs.size(); ++i) {
    absorbed[i] = choose_path(segs[i].n_past, segs[i].n_tokens) == MlaPath::Absorbed;
    any_absorbed = any_absorbed || absorbed[i];
  }
  batch.store(layer, kv, nullptr);
  std::fill(o, o + n * H * V, 0.0f);  // padding rows stay zero
  if (any_absorbed) {
    // Runs of consecutive absorbed segments: queries into latent space, attention in latent
    // space (the rows are one KV head of width W whose first L columns are also the values),
    // values out of it.
    std::vector<std::pair<int64_t, int64_t>> runs;
    for (size_t i = 0; i < segs.size(); ++i) {
      if (!absorbed[i]) continue;
      const int64_t r0 = segs[i].first_row, r1 = r0 + segs[i].n_tokens;
      if (!runs.empty() && runs.back().second == r0) {
        runs.back().second = r1;
      } else {
        runs.emplace_back(r0, r1);
      }
    }
    float* qw = ctx.scratch.get(kQAbs, sz(n * H * W));
    float* ol = ctx.scratch.get(kOLat, sz(n * H * L));
    for (const auto& [r0, r1] : runs) absorb_queries(q + r0 * H * dk, r1 - r0, qw + r0 * H * W, ctx);
    batch.attend_stored(layer, runtime::AttentionShape{H, 1, W, L, p_.kq_scale}, qw, ol, {absorbed.get(), segs.size()});
    for (const auto& [r0, r1] : runs) values_from_latent(ol + r0 * H * L, r1 - r0, o + r0 * H * V, ctx);
  }
  for (size_t i = 0; i < segs.size(); ++i) {
    if (absorbed[i]) continue;
    const auto read = [&](int64_t n_pos, int64_t col, int64_t n_cols, float* rows) {
      batch.read_keys(layer, i, n_pos, col, n_cols, rows);
    };
    const int64_t r0 = segs[i].first_row;
    attend_decompressed(q + r0 * H * dk, segs[i].n_tokens, segs[i].n_past, read, o + r0 * H * V, ctx);
  }
}

void MlaAttention::attend_decompressed(const float* q, int64_t n, int64_t pos0, const KeyReader& read, float* o,
                                       LayerContext& ctx) const {
  const int64_t H = p_.n_head, dk = p_.head_dim_k(), L = p_.kv_lora_rank;
  const int64_t nope = p_.head_dim_nope, R = p_.head_dim_rope, V = p_.head_dim_v;
  const int64_t n_pos = pos0 + n;
  float* lat = ctx.scratch.get(kKeys, sz(n_pos * L));
  float* kpe = ctx.scratch.get(kKpe, sz(n_pos * R));
  read(n_pos, 0, L, lat);
  read(n_pos, L, R, kpe);
  const float scale = p_.kq_scale;

  // Per head: keys K = [lat · W_UK | k_pe] (n_pos × (nope + R)) and values lat · W_UVᵀ (n_pos
  // × V) as F32 matrix products, then the online-softmax AttentionTile over them, up to
  // kTileTokens query tokens of the head per tile (they share every block of K and V rows; no
  // n × n_pos score matrix). Per query/key pair this is H·(nope + R + V) multiply-adds against
  // the absorbed order's H·(2L + R).
  constexpr int64_t kTileTokens = 8;
  ctx.pool.parallel_for(H, 1, [&](int64_t h0, int64_t h1) {
    std::vector<float> kn(sz(n_pos * nope)), keys(sz(n_pos * dk)), vh(sz(n_pos * V));
    std::vector<float> uk_t(w_.uk_transposed ? sz(nope * L) : 0), row(sz(nope));
    runtime::AttentionTile tile(kTileTokens, dk, V, scale);
    std::vector<int64_t> visible(sz(kTileTokens));
    for (int64_t h = h0; h < h1; ++h) {
      if (w_.uk_transposed) {
        // uk[h] is W_UKᵀ (L × nope): dequantize it into W_UK (nope × L) for the product.
        for (int64_t l = 0; l < L; ++l) {
          kernels::dequantize_weight_row(w_.uk[sz(h)], l, row.data());
          for (int64_t c = 0; c < nope; ++c) uk_t[sz(c * L + l)] = row[sz(c)];
        }
        matmul_serial({TensorType::F32, nope, L, reinterpret_cast<const uint8_t*>(uk_t.data())}, lat, n_pos, kn.data());
      } else {
        matmul_serial(w_.uk[sz(h)], lat, n_pos, kn.data());
      }
      for (int64_t p = 0; p < n_pos; ++p) {
        std::copy(kn.data() + p * nope, kn.data() + (p + 1) * nope, keys.data() + p * dk);
        std::copy(kpe + p * R, kpe + (p + 1) * R, keys.data() + p * dk + nope);
      }
      matmul_serial(w_.uv[sz(h)], lat, n_pos, vh.data());
      for (int64_t t0 = 0; t0 < n; t0 += kTileTokens) {
        const int64_t nt = std::min(kTileTokens, n - t0);
        for (int64_t t = 0; t < nt; ++t) visible[sz(t)] = pos0 + t0 + t + 1;
        tile.begin(q + (t0 * H + h) * dk, sz(H * dk), nt, visible.data());
        tile.add({runtime::KvType::F32, keys.data(), sz(dk), vh.data(), sz(V), 0, pos0 + t0 + nt});
        tile.finish(o + (t0 * H + h) * V, sz(H * V));
      }
    }
  });
}

}  // namespace edgellm::model
