// The fused (online-softmax) attention against a naive double-precision reference that
// materializes every score: GQA and MHA shapes, head_dim_k != head_dim_v, long sequences,
// pos0 > 0, F16 and F32 caches, several thread counts; plus the reusable AttentionTile fed
// in pieces (as a paged cache would) and its argument checks.
#include "runtime/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {
namespace {

struct Case {
  int64_t n_head, n_head_kv, dk, dv, pos0, n_tokens;
  KvType type;
};

std::vector<float> random_vector(std::mt19937& rng, size_t n, float sd) {
  std::normal_distribution<float> normal(0.0f, sd);
  std::vector<float> v(n);
  for (float& e : v) e = normal(rng);
  return v;
}

// out[t][h] = Σ_p softmax_p(scale · q·k_p) v_p over p <= pos0 + t, in double, from the cache's
// stored (possibly F16-rounded) rows as read_k / read_v return them.
std::vector<double> reference(const AttentionShape& s, const KvCache& kv, const std::vector<float>& q,
                              int64_t pos0, int64_t n_tokens) {
  const int64_t n_pos = pos0 + n_tokens;
  const int64_t kw = kv.shape(0).k_width, vw = kv.shape(0).v_width;
  std::vector<float> keys(static_cast<size_t>(n_pos * kw)), values(static_cast<size_t>(n_pos * vw));
  kv.read_k(0, n_pos, 0, kw, keys.data());
  kv.read_v(0, n_pos, 0, vw, values.data());
  const int64_t group = s.n_head / s.n_head_kv;
  std::vector<double> out(static_cast<size_t>(n_tokens * s.n_head * s.head_dim_v));
  std::vector<double> scores;
  for (int64_t t = 0; t < n_tokens; ++t)
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t g = h / group, visible = pos0 + t + 1;
      const float* qh = q.data() + (t * s.n_head + h) * s.head_dim_k;
      scores.assign(static_cast<size_t>(visible), 0.0);
      double max = -1e300;
      for (int64_t p = 0; p < visible; ++p) {
        double dot = 0;
        for (int64_t d = 0; d < s.head_dim_k; ++d)
          dot += static_cast<double>(qh[d]) * keys[static_cast<size_t>(p * kw + g * s.head_dim_k + d)];
        scores[static_cast<size_t>(p)] = dot * s.scale;
        max = std::max(max, dot * s.scale);
      }
      double z = 0;
      for (double& e : scores) z += (e = std::exp(e - max));
      double* o = out.data() + (t * s.n_head + h) * s.head_dim_v;
      for (int64_t p = 0; p < visible; ++p)
        for (int64_t d = 0; d < s.head_dim_v; ++d)
          o[d] += scores[static_cast<size_t>(p)] / z * values[static_cast<size_t>(p * vw + g * s.head_dim_v + d)];
    }
  return out;
}

TEST(Attention, MatchesDoubleReference) {
  const Case cases[] = {
      {8, 2, 64, 64, 0, 37, KvType::F32},      // GQA prefill from position 0
      {14, 2, 64, 64, 90, 21, KvType::F16},    // Qwen2.5-0.5B heads, prefill after a prefix
      {4, 4, 32, 48, 5, 1, KvType::F32},       // MHA decode, head_dim_k != head_dim_v
      {4, 1, 16, 16, 2047, 1, KvType::F16},    // decode at the end of a 2048 context
      {6, 2, 24, 40, 0, 130, KvType::F16},     // several query tiles and KV blocks
  };
  std::mt19937 rng(7);
  for (const Case& c : cases) {
    const AttentionShape s{c.n_head, c.n_head_kv, c.dk, c.dv, 1.0f / std::sqrt(static_cast<float>(c.dk))};
    const int64_t n_pos = c.pos0 + c.n_tokens;
    const int64_t kw = c.n_head_kv * c.dk + 3, vw = c.n_head_kv * c.dv + 5;  // rows wider than the heads
    KvCache kv(n_pos + 4, {{kw, vw}}, c.type);
    // sd 2 keys make peaked softmaxes (scores up to ~±30): the max-subtraction matters.
    const std::vector<float> k = random_vector(rng, static_cast<size_t>(n_pos * kw), 2.0f);
    const std::vector<float> v = random_vector(rng, static_cast<size_t>(n_pos * vw), 1.0f);
    kv.store(0, 0, n_pos, k.data(), v.data());
    const std::vector<float> q = random_vector(rng, static_cast<size_t>(c.n_tokens * c.n_head * c.dk), 1.0f);
    const std::vector<double> ref = reference(s, kv, q, c.pos0, c.n_tokens);
    double vmax = 0;
    for (float e : v) vmax = std::max(vmax, static_cast<double>(std::abs(e)));
    std::vector<float> first;
    for (int threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      std::vector<float> out(ref.size(), -7.0f);
      attention(s, kv, 0, q.data(), c.pos0, c.n_tokens, out.data(), pool);
      // Each output is a convex combination of value rows. Float scores carry a relative error
      // ~dk·2^-24·Σ|q·k|·scale (< 1e-5 here), the exp polynomial 2e-7, float sums over up to
      // 2048 weights ~1e-4 worst case: 1e-4·max|v| bounds all of it, while a masking or
      // indexing mistake moves outputs by O(0.1·max|v|).
      for (size_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(out[i], ref[i], 1e-4 * vmax)
            << "heads " << c.n_head << "/" << c.n_head_kv << " pos0 " << c.pos0 << " element " << i
            << " threads " << threads;
      if (first.empty()) {
        first = out;
      } else {
        ASSERT_EQ(0, std::memcmp(first.data(), out.data(), out.size() * sizeof(float))) << threads << " threads";
      }
    }
  }
}

// Random keys, values and query rows of one KV head (keys a little larger, so that the softmax
// is not flat).
struct RandomHead {
  std::vector<float> k, v, q;
};
RandomHead random_head(std::mt19937& rng, int64_t n_pos, int64_t dk, int64_t dv, int64_t rows) {
  RandomHead h;
  h.k = random_vector(rng, static_cast<size_t>(n_pos * dk), 1.5f);
  h.v = random_vector(rng, static_cast<size_t>(n_pos * dv), 1.0f);
  h.q = random_vector(rng, static_cast<size_t>(rows * dk), 1.0f);
  return h;
}

TEST(Attention, TileFedInPiecesEqualsOneRun) {
  // A paged cache hands the tile its positions page by page; the order of runs and the cut
  // points must not matter beyond float rounding of the rescaled sums.
  std::mt19937 rng(3);
  const int64_t dk = 32, dv = 16, n_pos = 300, rows = 5;
  const RandomHead head = random_head(rng, n_pos, dk, dv, rows);
  const int64_t visible[rows] = {1, 64, 65, 200, 300};
  AttentionTile tile(8, dk, dv, 0.2f);
  auto run_pieces = [&](const std::vector<int64_t>& cuts) {
    tile.begin(head.q.data(), dk, rows, visible);
    for (size_t i = cuts.size() - 1; i > 0; --i) {  // last run first
      KvRows r{KvType::F32, head.k.data() + cuts[i - 1] * dk, static_cast<size_t>(dk),
               head.v.data() + cuts[i - 1] * dv, static_cast<size_t>(dv), cuts[i - 1], cuts[i] - cuts[i - 1]};
      tile.add(r);
    }
    std::vector<float> out(static_cast<size_t>(rows * dv));
    tile.finish(out.data(), dv);
    return out;
  };
  const std::vector<float> whole = run_pieces({0, n_pos});
  const std::vector<float> paged = run_pieces({0, 16, 17, 100, 164, 250, n_pos});
  for (size_t i = 0; i < whole.size(); ++i) EXPECT_NEAR(paged[i], whole[i], 1e-5) << i;
  // Row 0 sees only position 0: its output is exactly v_0.
  for (int64_t d = 0; d < dv; ++d) EXPECT_NEAR(whole[static_cast<size_t>(d)], head.v[static_cast<size_t>(d)], 1e-6);
}

// A tile takes over the buffers of the last tile destroyed on its thread (see attention.cpp):
// whatever that tile left in them, larger or smaller, and with another tile alive at the same
// time, the result is the one a tile on a fresh thread computes, bit for bit.
TEST(Attention, TileReusingBuffersEqualsAFreshOne) {
  std::mt19937 rng(11);
  const int64_t dk = 48, dv = 40, n_pos = 150, rows = 6;
  const RandomHead head = random_head(rng, n_pos, dk, dv, rows);
  const int64_t visible[rows] = {1, 31, 64, 65, 129, 150};
  const KvRows all{KvType::F32, head.k.data(), static_cast<size_t>(dk), head.v.data(), static_cast<size_t>(dv), 0, n_pos};
  auto attend = [&](AttentionTile& tile) {
    tile.begin(head.q.data(), dk, rows, visible);
    tile.add(all);
    std::vector<float> out(static_cast<size_t>(rows * dv));
    tile.finish(out.data(), dv);
    return out;
  };
  std::vector<float> fresh;
  std::thread([&] {
    AttentionTile tile(rows, dk, dv, 0.3f);
    fresh = attend(tile);
  }).join();
  // Leave buffers of a wider tile full of other values, then of a narrower one.
  for (const int64_t width : {int64_t{200}, int64_t{8}}) {
    const std::vector<float> big = random_vector(rng, static_cast<size_t>(n_pos * width), 30.0f);
    AttentionTile other(16, width, width, 1.0f);
    const std::vector<int64_t> vis(16, n_pos);
    other.begin(big.data(), 0, 16, vis.data());
    other.add({KvType::F32, big.data(), static_cast<size_t>(width), big.data(), static_cast<size_t>(width), 0, n_pos});
    std::vector<float> sink(static_cast<size_t>(16 * width));
    other.finish(sink.data(), static_cast<size_t>(width));
  }
  AttentionTile reused(rows, dk, dv, 0.3f);
  AttentionTile alongside(rows, dk, dv, 0.3f);  // alive at the same time: fresh buffers
  const std::vector<float> a = attend(reused), b = attend(alongside);
  ASSERT_EQ(fresh.size(), a.size());
  EXPECT_EQ(0, std::memcmp(fresh.data(), a.data(), a.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(fresh.data(), b.data(), b.size() * sizeof(float)));
}

// One KV head's rows, F16 bits or floats: position p's key at keys + p * dk, value at
// values + p * dv.
struct TileCase {
  int64_t dk, dv;
  KvType type;
};

// Row r of `rows` (indices into q / visible) through one tile, KV positions fed in the runs
// between consecutive cuts; returns rows.size() x dv outputs.
std::vector<float> run_tile(const TileCase& c, const void* keys, const void* values, const std::vector<float>& q,
                            const std::vector<int64_t>& visible, const std::vector<size_t>& rows,
                            const std::vector<int64_t>& cuts) {
  const auto n = static_cast<int64_t>(rows.size());
  std::vector<float> q_rows;
  std::vector<int64_t> vis;
  for (size_t r : rows) {
    const auto first = q.begin() + static_cast<int64_t>(r) * c.dk;
    q_rows.insert(q_rows.end(), first, first + c.dk);
    vis.push_back(visible[r]);
  }
  AttentionTile tile(n, c.dk, c.dv, 1.0f / std::sqrt(static_cast<float>(c.dk)));
  tile.begin(q_rows.data(), static_cast<size_t>(c.dk), n, vis.data());
  const size_t elem = c.type == KvType::F16 ? 2 : 4;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    const int64_t p0 = cuts[i];
    KvRows run{c.type, static_cast<const uint8_t*>(keys) + static_cast<size_t>(p0 * c.dk) * elem,
               static_cast<size_t>(c.dk), static_cast<const uint8_t*>(values) + static_cast<size_t>(p0 * c.dv) * elem,
               static_cast<size_t>(c.dv), p0, cuts[i + 1] - p0};
    tile.add(run);
  }
  std::vector<float> out(static_cast<size_t>(n * c.dv), -7.0f);
  tile.finish(out.data(), static_cast<size_t>(c.dv));
  return out;
}

TEST(Attention, RowIsBitIdenticalWhateverItsTileNeighbours) {
  // The server batches sequences into tiles; a row's result (the logits of a sequence) must not
  // depend on which rows share its tile, how many there are, or where in the tile it sits. Each
  // row is also checked against the double reference, so this runs every loop variant
  // (ctest repeats it per EDGELLM_ISA level). Dims not multiples of 8/16 exercise the tails.
  const TileCase cases[] = {{64, 64, KvType::F16}, {64, 64, KvType::F32}, {40, 40, KvType::F16},
                            {40, 24, KvType::F32}, {24, 72, KvType::F16}, {576, 512, KvType::F16}};
  std::mt19937 rng(11);
  for (const TileCase& c : cases) {
    const int64_t n_pos = c.dk > 256 ? 140 : 230;
    const std::vector<float> k = random_vector(rng, static_cast<size_t>(n_pos * c.dk), 1.5f);
    const std::vector<float> v = random_vector(rng, static_cast<size_t>(n_pos * c.dv), 1.0f);
    // The cache's storage: F16 bits, or the floats themselves.
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    std::vector<float> k_used = k, v_used = v;  // what the rows hold, as floats
    if (c.type == KvType::F16) {
      for (size_t i = 0; i < k.size(); ++i) k_used[i] = fp16_to_fp32(k16[i] = fp32_to_fp16(k[i]));
      for (size_t i = 0; i < v.size(); ++i) v_used[i] = fp16_to_fp32(v16[i] = fp32_to_fp16(v[i]));
    }
    const void* keys = c.type == KvType::F16 ? static_cast<const void*>(k16.data()) : k.data();
    const void* values = c.type == KvType::F16 ? static_cast<const void*>(v16.data()) : v.data();
    // Visible counts around block (64) and panel (16 / 32) edges, up to the whole run.
    const std::vector<int64_t> visible = {1,  2,   15,  16,  17,  31,  32,    33, 63,
                                          64, 65, 100, 127, 128, 129, n_pos, 7,  n_pos};
    const size_t n_rows = visible.size();
    const std::vector<float> q = random_vector(rng, n_rows * static_cast<size_t>(c.dk), 1.0f);
    const std::vector<int64_t> cuts = {0, 16, 64, 100, n_pos};  // runs as a paged cache hands them over

    std::vector<std::vector<float>> alone(n_rows);
    for (size_t r = 0; r < n_rows; ++r) {
      alone[r] = run_tile(c, keys, values, q, visible, {r}, cuts);
      // The double reference of row r.
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
      std::vector<double> w(static_cast<size_t>(visible[r]));
      double max = -1e300, z = 0;
      for (int64_t p = 0; p < visible[r]; ++p) {
        double dot = 0;
        for (int64_t d = 0; d < c.dk; ++d)
          dot += static_cast<double>(q[r * static_cast<size_t>(c.dk) + static_cast<size_t>(d)]) *
                 k_used[static_cast<size_t>(p * c.dk + d)];
        max = std::max(max, w[static_cast<size_t>(p)] = dot * scale);
      }
      for (double& e : w) z += (e = std::exp(e - max));
      for (int64_t d = 0; d < c.dv; ++d) {
        double o = 0;
        for (int64_t p = 0; p < visible[r]; ++p)
          o += w[static_cast<size_t>(p)] / z * v_used[static_cast<size_t>(p * c.dv + d)];
        ASSERT_NEAR(alone[r][static_cast<size_t>(d)], o, 1e-4) << "dk " << c.dk << " row " << r << " col " << d;
      }
    }
    // Tiles of the first m rows (m = 1 .. all), all rows in reverse, and every other row.
    std::vector<std::vector<size_t>> tiles;
    for (size_t m = 1; m <= n_rows; ++m) {
      tiles.emplace_back();
      for (size_t r = 0; r < m; ++r) tiles.back().push_back(r);
    }
    tiles.emplace_back(tiles.back().rbegin(), tiles.back().rend());
    tiles.emplace_back();
    for (size_t r = 1; r < n_rows; r += 2) tiles.back().push_back(r);
    for (const std::vector<size_t>& rows : tiles) {
      const std::vector<float> out = run_tile(c, keys, values, q, visible, rows, cuts);
      for (size_t i = 0; i < rows.size(); ++i)
        ASSERT_EQ(0, std::memcmp(out.data() + i * static_cast<size_t>(c.dv), alone[rows[i]].data(),
                                 static_cast<size_t>(c.dv) * sizeof(float)))
            << "dk " << c.dk << " dv " << c.dv << " row " << rows[i] << " at " << i << " of " << rows.size();
    }
  }
}

TEST(Attention, BadArgumentsAreErrors) {
  KvCache kv(16, {{64, 64}}, KvType::F32);
  ThreadPool pool(1);
  std::vector<float> q(64 * 4), out(64 * 4);
  EXPECT_THROW(attention({3, 2, 32, 32, 0.1f}, kv, 0, q.data(), 0, 1, out.data(), pool), Error);
  EXPECT_THROW(attention({4, 2, 64, 64, 0.1f}, kv, 0, q.data(), 0, 1, out.data(), pool), Error);  // rows too narrow
  EXPECT_THROW(attention({2, 2, 32, 32, 0.1f}, kv, 0, q.data(), 15, 2, out.data(), pool), Error);  // past n_ctx
  EXPECT_THROW(attention({2, 2, 32, 32, 0.1f}, kv, 1, q.data(), 0, 1, out.data(), pool), Error);   // no layer 1
  EXPECT_THROW(AttentionTile(0, 32, 32, 1.0f), Error);
  AttentionTile tile(2, 8, 8, 1.0f);
  const int64_t visible[3] = {1, 1, 1};
  EXPECT_THROW(tile.begin(q.data(), 8, 3, visible), Error);
}

}  // namespace
}  // namespace edgellm::runtime
