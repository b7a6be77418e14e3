// Self-contained checks of the deepseek2 forward pass on synthetic random-weight GGUFs:
// absorbed vs decompressed MLA (directly, and for a cache continued across batches), legacy
// attn_kv_b vs split attn_k_b/attn_v_b files, prefill vs decode, the latent-only KV cache, the
// routing rules on hand-made logits, and expert-grouped batches vs one token at a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/deepseek2_params.h"
#include "model/deepseek2_test_util.h"
#include "model/mla_attention.h"
#include "model/model.h"
#include "model/moe_ffn.h"
#include "model/weights.h"
#include "runtime/attention.h"
#include "runtime/batch_attention.h"
#include "runtime/kv_cache.h"
#include "runtime/scratch.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace edgellm::test {
namespace {

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0, d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    m = std::max(m, std::abs(static_cast<double>(b[i])));
    d = std::max(d, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return d / std::max(m, 1e-30);
}

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<int32_t> tokens(int n, int vocab) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<size_t>(i)] = (i * 7 + 3) % vocab;
  return t;
}

// Logits of every position: all at once, or in batches of `batch`.
std::vector<float> run_logits(const model::Model& m, const std::vector<int32_t>& toks, int64_t batch,
                              runtime::ThreadPool& pool) {
  runtime::SessionParams sp;
  sp.kv_type = runtime::KvType::F32;
  runtime::Session s(m, sp, pool);
  std::vector<float> out;
  for (size_t b = 0; b < toks.size(); b += static_cast<size_t>(batch)) {
    const size_t n = std::min(toks.size() - b, static_cast<size_t>(batch));
    auto l = s.eval(std::span<const int32_t>(toks.data() + b, n), static_cast<int64_t>(n));
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

struct Loaded {
  std::vector<uint8_t> bytes;
  std::unique_ptr<model::Model> model;
};

Loaded load(const TinyDeepseek2Options& o) {
  Loaded l;
  l.bytes = make_tiny_deepseek2_gguf(o);
  l.model = model::Model::from_file(gguf::GgufFile::from_buffer(l.bytes));
  return l;
}

// One layer's MLA on random inputs: the absorbed and decompressed orders agree, also when a
// second batch continues a cache written by the first.
void check_paths_agree(const TinyDeepseek2Options& o) {
  const std::vector<uint8_t> bytes = make_tiny_deepseek2_gguf(o);
  const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
  const model::ModelConfig c = model::read_deepseek2_config(file);
  const model::Deepseek2Params p = model::read_deepseek2_params(file, c);
  const model::WeightLoader w(file, "deepseek2");
  const model::MlaAttention attn(p.mla, model::load_mla_weights(w, p.mla, 1));
  const kernels::Rope rope(c.rope);
  runtime::ThreadPool pool(2);

  const auto run = [&](model::MlaPath path) {
    runtime::KvCache kv(64, std::vector<runtime::KvLayerShape>(3, {attn.cache_width(), 0}), runtime::KvType::F32);
    runtime::Scratch scratch;
    std::vector<float> out;
    int64_t pos = 0;
    for (const int64_t n : {int64_t{9}, int64_t{5}, int64_t{1}}) {  // prefill, continuation, decode
      const std::vector<float> x = random_vector(static_cast<size_t>(n * c.n_embd), static_cast<uint32_t>(100 + pos));
      std::vector<float> cos(static_cast<size_t>(n * rope.n_pairs())), sin(cos.size()), y(x.size());
      rope.angles(pos, n, cos.data(), sin.data());
      model::LayerContext ctx{pool, kv, scratch, rope, cos.data(), sin.data(), pos, n};
      attn.forward(1, x.data(), y.data(), ctx, path);
      out.insert(out.end(), y.begin(), y.end());
      pos += n;
    }
    return out;
  };
  const std::vector<float> absorbed = run(model::MlaPath::Absorbed);
  const std::vector<float> decompressed = run(model::MlaPath::Decompressed);
  // Same arithmetic in another order, in float32: ~1e-7 relative per operation over sums of
  // a few hundred terms; 1e-5 of the largest output leaves room while a wrong transpose,
  // scale or RoPE offset changes outputs by O(1).
  EXPECT_LT(max_rel_diff(absorbed, decompressed), 1e-5);
}

TEST(Deepseek2Mla, AbsorbedMatchesDecompressedSplitForm) { check_paths_agree({}); }

TEST(Deepseek2Mla, AbsorbedMatchesDecompressedLegacyKvB) {
  TinyDeepseek2Options o;
  o.legacy_kv_b = true;
  o.q_lora_rank = 24;
  o.yarn = true;
  check_paths_agree(o);
}

// A batch hook over plain F32 rows per sequence that records what the layer asks of it.
class RecordingBatch final : public runtime::BatchAttention {
 public:
  RecordingBatch(int64_t width, std::vector<Segment> segments, std::vector<std::vector<float>> cached)
      : width_(width), segments_(std::move(segments)), rows_(std::move(cached)) {}

  std::span<const Segment> segments() const override { return segments_; }
  void store(int, const float* k, const float*) override {
    for (size_t i = 0; i < segments_.size(); ++i)
      rows_[i].insert(rows_[i].end(), k + segments_[i].first_row * width_,
                      k + (segments_[i].first_row + segments_[i].n_tokens) * width_);
  }
  void attend_stored(int, const runtime::AttentionShape& s, const float* q, float* out,
                     std::span<const bool> selected) override {
    selected_.assign(selected.begin(), selected.end());
    for (size_t i = 0; i < segments_.size(); ++i) {
      if (!selected.empty() && !selected[i]) continue;
      for (int64_t t = 0; t < segments_[i].n_tokens; ++t) {
        const int64_t row = segments_[i].first_row + t, visible = segments_[i].n_past + t + 1;
        for (int64_t h = 0; h < s.n_head; ++h) {
          runtime::AttentionTile tile(1, s.head_dim_k, s.head_dim_v, s.scale);
          tile.begin(q + (row * s.n_head + h) * s.head_dim_k, static_cast<size_t>(s.head_dim_k), 1, &visible);
          tile.add({runtime::KvType::F32, rows_[i].data(), static_cast<size_t>(width_), rows_[i].data(),
                    static_cast<size_t>(width_), 0, visible});
          tile.finish(out + (row * s.n_head + h) * s.head_dim_v, static_cast<size_t>(s.head_dim_v));
        }
      }
    }
  }
  void read_keys(int, size_t segment, int64_t n_pos, int64_t col, int64_t n_cols, float* out) const override {
    reads_.push_back(segment);
    for (int64_t p = 0; p < n_pos; ++p)
      std::copy_n(rows_[segment].data() + p * width_ + col, n_cols, out + p * n_cols);
  }

  std::vector<bool> selected_;
  mutable std::vector<size_t> reads_;

 private:
  int64_t width_;
  std::vector<Segment> segments_;
  std::vector<std::vector<float>> rows_;
};

// In a step that holds a prompt and another sequence's decode token, the prompt takes
// the decompressed order (its latents read back through the hook) and the decode token the
// absorbed one, and each sequence's output equals that of the layer run on it alone.
TEST(Deepseek2Mla, BatchStepTakesEachSequencesCheaperOrder) {
  const std::vector<uint8_t> bytes = make_tiny_deepseek2_gguf({});
  const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
  const model::ModelConfig c = model::read_deepseek2_config(file);
  const model::Deepseek2Params p = model::read_deepseek2_params(file, c);
  const model::WeightLoader w(file, "deepseek2");
  const model::MlaAttention attn(p.mla, model::load_mla_weights(w, p.mla, 1));
  // The shortest prompt that this shape expands (a few tens of tokens for the tiny dimensions).
  int64_t na = 2;
  while (na < 48 && attn.choose_path(0, na) != model::MlaPath::Decompressed) ++na;
  ASSERT_EQ(attn.choose_path(0, na), model::MlaPath::Decompressed);
  ASSERT_EQ(attn.choose_path(5, 1), model::MlaPath::Absorbed);
  const kernels::Rope rope(c.rope);
  runtime::ThreadPool pool(2);
  const int64_t W = attn.cache_width(), E = c.n_embd, pairs = rope.n_pairs();
  const std::vector<float> xa = random_vector(static_cast<size_t>(na * E), 7);
  const std::vector<float> xb = random_vector(static_cast<size_t>(6 * E), 8);  // 5 prompt + 1 decode

  // Alone: a KV cache per sequence.
  const auto alone = [&](const float* x, int64_t pos, int64_t n, runtime::KvCache& kv) {
    runtime::Scratch scratch;
    std::vector<float> cos(static_cast<size_t>(n * pairs)), sin(cos.size()), y(static_cast<size_t>(n * E));
    rope.angles(pos, n, cos.data(), sin.data());
    model::LayerContext ctx{pool, kv, scratch, rope, cos.data(), sin.data(), pos, n};
    attn.forward(1, x, y.data(), ctx, attn.choose_path(pos, n));
    return y;
  };
  const std::vector<runtime::KvLayerShape> shapes(3, {W, 0});
  runtime::KvCache kv_a(64, shapes, runtime::KvType::F32), kv_b(64, shapes, runtime::KvType::F32);
  const std::vector<float> ya = alone(xa.data(), 0, na, kv_a);
  alone(xb.data(), 0, 5, kv_b);
  std::vector<float> cached_b(static_cast<size_t>(5 * W));
  kv_b.read_k(1, 5, 0, W, cached_b.data());
  const std::vector<float> yb = alone(xb.data() + 5 * E, 5, 1, kv_b);

  // Together: rows [A's prompt tokens | B's decode token], each at its own position.
  RecordingBatch batch(W, {{0, na, 0}, {na, 1, 5}}, {{}, cached_b});
  std::vector<float> x(xa), cos(static_cast<size_t>((na + 1) * pairs)), sin(cos.size());
  std::vector<float> y(static_cast<size_t>((na + 1) * E));
  x.insert(x.end(), xb.begin() + 5 * E, xb.end());
  rope.angles(0, na, cos.data(), sin.data());
  rope.angles(5, 1, cos.data() + na * pairs, sin.data() + na * pairs);
  runtime::KvCache unused(1, shapes, runtime::KvType::F32);
  runtime::Scratch scratch;
  model::LayerContext ctx{pool, unused, scratch, rope, cos.data(), sin.data(), 0, na + 1};
  ctx.batch = &batch;
  attn.forward(1, x.data(), y.data(), ctx, model::MlaPath::Absorbed);  // the path is chosen per sequence

  EXPECT_EQ(batch.selected_, (std::vector<bool>{false, true}));
  EXPECT_EQ(batch.reads_, (std::vector<size_t>{0, 0})) << "the prompt's latents and RoPE keys, read once each";
  // As in check_paths_agree: the same arithmetic, possibly in another order.
  EXPECT_LT(max_rel_diff(std::vector<float>(y.begin(), y.begin() + na * E), ya), 1e-5);
  EXPECT_LT(max_rel_diff(std::vector<float>(y.begin() + na * E, y.end()), yb), 1e-5);
}

TEST(Deepseek2Mla, PathChoiceFollowsCost) {
  model::MlaParams p;
  p.n_embd = 2048, p.n_head = 16, p.kv_lora_rank = 512, p.head_dim_nope = 128, p.head_dim_rope = 64, p.head_dim_v = 128;
  const model::MlaAttention attn(p, model::MlaWeights{});
  EXPECT_EQ(attn.choose_path(0, 512), model::MlaPath::Decompressed);  // fresh prompt
  EXPECT_EQ(attn.choose_path(0, 256), model::MlaPath::Decompressed);
  EXPECT_EQ(attn.choose_path(1536, 512), model::MlaPath::Decompressed);  // a long prompt's last chunk
  EXPECT_EQ(attn.choose_path(0, 16), model::MlaPath::Absorbed);        // short: measured faster absorbed
  EXPECT_EQ(attn.choose_path(100, 1), model::MlaPath::Absorbed);      // decode
  EXPECT_EQ(attn.choose_path(4000, 1), model::MlaPath::Absorbed);
  EXPECT_EQ(attn.cache_width(), 576);

  // A quantized W_UK stored transposed (attn_k_b) is expanded in F32: measured faster absorbed
  // up to ~512 prompt tokens.
  model::MlaWeights split;
  split.uk_transposed = true;
  split.uk.assign(16, kernels::WeightMatrix{TensorType::Q4_0, 512, 128, nullptr});
  const model::MlaAttention quantized(p, split);
  EXPECT_EQ(quantized.choose_path(0, 256), model::MlaPath::Absorbed);
  EXPECT_EQ(quantized.choose_path(0, 128), model::MlaPath::Absorbed);
  EXPECT_EQ(quantized.choose_path(0, 1024), model::MlaPath::Decompressed);
  EXPECT_EQ(quantized.choose_path(100, 1), model::MlaPath::Absorbed);
  split.uk.assign(16, kernels::WeightMatrix{TensorType::F32, 512, 128, nullptr});  // F32: as above
  EXPECT_EQ(model::MlaAttention(p, split).choose_path(0, 256), model::MlaPath::Decompressed);
}

TEST(Deepseek2Model, LegacyAndSplitFilesGiveTheSameLogits) {
  TinyDeepseek2Options o;
  const Loaded split = load(o);
  o.legacy_kv_b = true;
  const Loaded legacy = load(o);
  runtime::ThreadPool pool(2);
  const auto t = tokens(20, 40);
  EXPECT_LT(max_rel_diff(run_logits(*legacy.model, t, 20, pool), run_logits(*split.model, t, 20, pool)), 1e-5);
  EXPECT_LT(max_rel_diff(run_logits(*legacy.model, t, 1, pool), run_logits(*split.model, t, 1, pool)), 1e-5);
}

TEST(Deepseek2Model, PrefillDecodeAndMixedBatchesAgree) {
  for (const bool groups : {false, true}) {
    TinyDeepseek2Options o;
    o.q_lora_rank = 16;
    if (groups) {
      o.sigmoid_with_bias = true, o.n_group = 4, o.n_group_used = 2, o.n_expert_used = 3;
      o.norm_weights = true, o.weights_scale = 2.5f, o.yarn = true;
    }
    const Loaded m = load(o);
    runtime::ThreadPool pool(2);
    const auto t = tokens(40, 40);
    const std::vector<float> prefill = run_logits(*m.model, t, 40, pool);
    EXPECT_LT(max_rel_diff(run_logits(*m.model, t, 1, pool), prefill), 1e-5) << groups;
    EXPECT_LT(max_rel_diff(run_logits(*m.model, t, 7, pool), prefill), 1e-5) << groups;
  }
}

TEST(Deepseek2Model, KvCacheHoldsOnlyLatentAndRopeKey) {
  TinyDeepseek2Options o;  // 3 layers, kv_lora_rank 32, rope 8
  const Loaded m = load(o);
  runtime::ThreadPool pool(1);
  runtime::Session s(*m.model, {}, pool);
  EXPECT_EQ(s.kv_cache().bytes_per_token(), 3u * (32 + 8) * 2);  // F16 cache
  // DeepSeek-V2-Lite: 27 layers of kv_lora_rank 512 + rope 64 = 15,552 values per token,
  // against 27 · 16 heads · (192 + 128) = 138,240 for full keys and values.
  model::MlaParams lite;
  lite.kv_lora_rank = 512, lite.head_dim_rope = 64;
  const runtime::KvCache kv(8, std::vector<runtime::KvLayerShape>(27, {lite.cache_width(), 0}), runtime::KvType::F32);
  EXPECT_EQ(kv.bytes_per_token(), 15552u * 4);
}

TEST(Deepseek2Model, MissingTensorIsNamed) {
  TinyDeepseek2Options o;
  o.skip_tensor = "blk.1.attn_k_b.weight";
  try {
    load(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.1.attn_k_b.weight"), std::string::npos) << e.what();
  }
}

model::MoeParams moe_params(int64_t n_expert, int64_t k) {
  model::MoeParams p;
  p.n_embd = 4, p.n_expert = n_expert, p.n_expert_used = k, p.n_ff_exp = 4;
  return p;
}

TEST(Deepseek2Routing, SoftmaxTopKWithNormAndScale) {
  model::MoeParams p = moe_params(4, 2);
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f, -1.0f};
  model::Routing r;
  model::route_tokens(p, logits.data(), {}, 1, r);
  std::vector<float> sm = logits;
  double z = 0;
  for (float& v : sm) z += std::exp(v);
  for (float& v : sm) v = static_cast<float>(std::exp(v) / z);
  EXPECT_EQ(r.expert, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(r.weight[0], sm[1], 1e-6);
  EXPECT_NEAR(r.weight[1], sm[2], 1e-6);
  p.norm_weights = true, p.weights_scale = 3.0f;
  model::route_tokens(p, logits.data(), {}, 1, r);
  EXPECT_NEAR(r.weight[0], 3.0 * sm[1] / (sm[1] + sm[2]), 1e-6);
  EXPECT_NEAR(r.weight[0] + r.weight[1], 3.0, 1e-6);
}

TEST(Deepseek2Routing, GroupLimitScoresGroupsByTheirTwoBest) {
  // Groups {0,1} {2,3} {4,5}: group 0 holds the single best expert but the worst pair sum.
  model::MoeParams p = moe_params(6, 2);
  p.gating = model::ExpertGating::Sigmoid;
  p.n_group = 3, p.n_group_used = 2;
  const std::vector<float> logits = {4.0f, -4.0f, 2.0f, 2.0f, 1.5f, 1.5f};
  model::Routing r;
  model::route_tokens(p, logits.data(), {}, 1, r);
  EXPECT_EQ(r.expert, (std::vector<int32_t>{2, 3}));  // expert 0 is excluded with its group
  p.n_group = 0;  // no group limit: the best expert wins
  model::route_tokens(p, logits.data(), {}, 1, r);
  EXPECT_EQ(r.expert[0], 0);
}

TEST(Deepseek2Routing, SelectionBiasChangesChoiceNotWeights) {
  model::MoeParams p = moe_params(4, 1);
  p.gating = model::ExpertGating::Sigmoid;
  const std::vector<float> logits = {1.0f, 0.5f, -2.0f, 0.0f};
  const std::vector<float> bias = {0.0f, 0.0f, 0.9f, 0.0f};
  model::Routing r;
  model::route_tokens(p, logits.data(), bias, 1, r);
  EXPECT_EQ(r.expert[0], 2);
  EXPECT_NEAR(r.weight[0], 1.0 / (1.0 + std::exp(2.0)), 1e-6);  // the unbiased sigmoid
}

TEST(Deepseek2Moe, GroupedBatchEqualsTokenByToken) {
  TinyDeepseek2Options o;
  o.n_expert = 6, o.n_expert_used = 3, o.n_shared = 2;
  const std::vector<uint8_t> bytes = make_tiny_deepseek2_gguf(o);
  const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
  const model::ModelConfig c = model::read_deepseek2_config(file);
  const model::Deepseek2Params p = model::read_deepseek2_params(file, c);
  const model::WeightLoader w(file, "deepseek2");
  const model::MoeFfn moe(p.moe, model::load_moe_weights(w, p.moe, 2));
  runtime::ThreadPool pool(2);
  runtime::Scratch scratch;
  const int64_t n = 16;
  const std::vector<float> x = random_vector(static_cast<size_t>(n * c.n_embd), 5);
  std::vector<float> batched(x.size()), single(x.size());
  moe.forward(x.data(), n, batched.data(), scratch, pool);
  for (int64_t t = 0; t < n; ++t) moe.forward(x.data() + t * c.n_embd, 1, single.data() + t * c.n_embd, scratch, pool);
  EXPECT_LT(max_rel_diff(batched, single), 1e-6);
  // Active weights of one token: router + 3 experts + 2 shared-expert widths, all F32.
  const size_t expert = 3u * 32u * 16u * 4u;
  EXPECT_EQ(moe.active_bytes_per_token(), 6u * 32u * 4u + 3u * expert + 2u * expert);
}

}  // namespace
}  // namespace edgellm::test
