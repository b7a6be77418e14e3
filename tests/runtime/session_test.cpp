// The forward pass on synthetic llama / qwen2 GGUFs against a naive double-precision
// implementation written here directly from the model definition (one token at a time, full
// recomputation, no cache), plus prefill/decode/batching/threading consistency and errors.
#include "runtime/session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/quant/quant.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {
namespace {

using Mat = std::vector<double>;

Mat tensor_f64(const gguf::GgufFile& f, const std::string& name) {
  const gguf::TensorInfo& t = f.tensor(name);
  std::vector<float> v(static_cast<size_t>(t.n_elements()));
  quant::dequantize_row(t.type, t.data, v.data(), t.n_elements());
  return Mat(v.begin(), v.end());
}

// y[r] = Σ_c W[r, c] x[c] (+ b[r]); W is rows × cols row-major.
std::vector<double> matvec(const Mat& w, const std::vector<double>& x, const Mat* b = nullptr) {
  const size_t cols = x.size(), rows = w.size() / cols;
  std::vector<double> y(rows);
  for (size_t r = 0; r < rows; ++r) {
    double s = b ? (*b)[r] : 0.0;
    for (size_t c = 0; c < cols; ++c) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

std::vector<double> rmsnorm(const std::vector<double>& x, const Mat& w, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double k = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * k * w[i];
  return y;
}

void rope(std::vector<double>& x, size_t n_heads, size_t hd, size_t pos, bool neox) {
  for (size_t h = 0; h < n_heads; ++h)
    for (size_t i = 0; i < hd / 2; ++i) {
      const double theta = static_cast<double>(pos) * std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(hd));
      const size_t a = h * hd + (neox ? i : 2 * i), b = neox ? a + hd / 2 : a + 1;
      const double x0 = x[a], x1 = x[b];
      x[a] = x0 * std::cos(theta) - x1 * std::sin(theta);
      x[b] = x0 * std::sin(theta) + x1 * std::cos(theta);
    }
}

// Logits of every position of `tokens`, computed naively.
std::vector<double> naive_logits(const gguf::GgufFile& f, const test::TinyGgufOptions& o,
                                 const std::vector<int32_t>& tokens) {
  const bool neox = o.arch == "qwen2";
  const size_t E = static_cast<size_t>(o.n_embd), H = static_cast<size_t>(o.n_head),
               KV = static_cast<size_t>(o.n_head_kv), hd = E / H, T = tokens.size();
  const Mat emb = tensor_f64(f, "token_embd.weight");
  std::vector<std::vector<double>> x(T);
  for (size_t t = 0; t < T; ++t)
    x[t].assign(emb.begin() + static_cast<std::ptrdiff_t>(tokens[t] * E), emb.begin() + static_cast<std::ptrdiff_t>((tokens[t] + 1) * E));
  for (int l = 0; l < o.n_layer; ++l) {
    const auto W = [&](const char* stem, const char* suffix = "weight") {
      return tensor_f64(f, gguf::block_tensor(l, stem, suffix));
    };
    const Mat wq = W("attn_q"), wk = W("attn_k"), wv = W("attn_v"), wo = W("attn_output");
    Mat bq, bk, bv;
    if (o.qkv_bias) bq = W("attn_q", "bias"), bk = W("attn_k", "bias"), bv = W("attn_v", "bias");
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (size_t t = 0; t < T; ++t) {
      const auto n = rmsnorm(x[t], W("attn_norm"), 1e-5);
      q[t] = matvec(wq, n, o.qkv_bias ? &bq : nullptr);
      k[t] = matvec(wk, n, o.qkv_bias ? &bk : nullptr);
      v[t] = matvec(wv, n, o.qkv_bias ? &bv : nullptr);
      rope(q[t], H, hd, t, neox);
      rope(k[t], KV, hd, t, neox);
    }
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> att(H * hd, 0.0);
      for (size_t h = 0; h < H; ++h) {
        const size_t g = h / (H / KV);
        std::vector<double> s(t + 1);
        double mx = -1e300, sum = 0;
        for (size_t p = 0; p <= t; ++p) {
          double d = 0;
          for (size_t i = 0; i < hd; ++i) d += q[t][h * hd + i] * k[p][g * hd + i];
          s[p] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[p]);
        }
        for (double& e : s) sum += (e = std::exp(e - mx));
        for (size_t p = 0; p <= t; ++p)
          for (size_t i = 0; i < hd; ++i) att[h * hd + i] += s[p] / sum * v[p][g * hd + i];
      }
      const auto o_proj = matvec(wo, att);
      for (size_t i = 0; i < E; ++i) x[t][i] += o_proj[i];
      const auto n = rmsnorm(x[t], W("ffn_norm"), 1e-5);
      auto gate = matvec(W("ffn_gate"), n);
      const auto up = matvec(W("ffn_up"), n);
      for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      const auto down = matvec(W("ffn_down"), gate);
      for (size_t i = 0; i < E; ++i) x[t][i] += down[i];
    }
  }
  const Mat head = tensor_f64(f, o.tied ? "token_embd.weight" : "output.weight");
  std::vector<double> out;
  for (size_t t = 0; t < T; ++t) {
    const auto lg = matvec(head, rmsnorm(x[t], tensor_f64(f, "output_norm.weight"), 1e-5));
    out.insert(out.end(), lg.begin(), lg.end());
  }
  return out;
}

struct Loaded {
  std::vector<uint8_t> bytes;
  std::unique_ptr<model::Model> model;
};

Loaded load(const test::TinyGgufOptions& o) {
  Loaded l;
  l.bytes = test::make_tiny_gguf(o);
  l.model = model::Model::from_file(gguf::GgufFile::from_buffer(l.bytes));
  return l;
}

const std::vector<int32_t> kTokens = {3, 17, 42, 0, 8, 8, 49, 21, 5, 30, 11};

// Runs the tokens in pieces of `batch` and collects every position's logits.
std::vector<float> run_all(const model::Model& m, int64_t batch, int threads, KvType kv) {
  ThreadPool pool(threads);
  SessionParams p;
  p.kv_type = kv;
  p.max_batch = 4;  // also exercises the internal split of long batches
  Session s(m, p, pool);
  std::vector<float> all;
  for (size_t b = 0; b < kTokens.size(); b += static_cast<size_t>(batch)) {
    const size_t n = std::min(kTokens.size() - b, static_cast<size_t>(batch));
    auto lg = s.eval(std::span<const int32_t>(kTokens).subspan(b, n), static_cast<int64_t>(n));
    all.insert(all.end(), lg.begin(), lg.end());
  }
  return all;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

class SessionArchTest : public ::testing::TestWithParam<test::TinyGgufOptions> {};

TEST_P(SessionArchTest, MatchesNaiveReferenceForPrefillAndDecode) {
  const test::TinyGgufOptions o = GetParam();
  const Loaded l = load(o);
  const std::vector<double> ref = naive_logits(l.model->file(), o, kTokens);
  // F32 weights and cache: only float32 rounding separates the two (logits are O(1) here, each
  // a sum of a few hundred products, so errors stay ~1e-5); 1e-4 catches any real mistake, e.g.
  // a wrong RoPE pairing or head grouping moves logits by O(0.1-1).
  for (int64_t batch : {static_cast<int64_t>(kTokens.size()), int64_t{1}, int64_t{3}})
    for (int threads : {1, 3})
      EXPECT_LT(max_abs_diff(run_all(*l.model, batch, threads, KvType::F32), ref), 1e-4)
          << "batch " << batch << " threads " << threads;
  // F16 cache: keys/values rounded to 11 significant bits (relative error <= 2^-11 ≈ 4.9e-4
  // each). Attention averages them and two layers pass them on, so the logits move by a small
  // multiple of that relative to their scale: allow 3e-3 of the largest |logit| (~10-20 here),
  // still an order of magnitude below the effect of any real mistake.
  double scale = 0;
  for (double v : ref) scale = std::max(scale, std::abs(v));
  EXPECT_LT(max_abs_diff(run_all(*l.model, 1, 2, KvType::F16), ref), 3e-3 * scale);
}

test::TinyGgufOptions variant(std::string arch, bool tied, bool bias, int64_t heads, int64_t kv) {
  test::TinyGgufOptions o;
  o.arch = std::move(arch);
  o.tied = tied;
  o.qkv_bias = bias;
  o.n_head = heads;
  o.n_head_kv = kv;
  return o;
}

INSTANTIATE_TEST_SUITE_P(Archs, SessionArchTest,
                         ::testing::Values(variant("llama", false, false, 4, 2),
                                           variant("llama", true, false, 4, 4),
                                           variant("llama", false, true, 8, 1),
                                           variant("qwen2", true, true, 4, 2),
                                           variant("qwen2", false, true, 8, 4)),
                         [](const auto& param_info) {
                           const test::TinyGgufOptions& o = param_info.param;
                           return o.arch + "_h" + std::to_string(o.n_head) + "_kv" + std::to_string(o.n_head_kv) +
                                  (o.tied ? "_tied" : "") + (o.qkv_bias ? "_bias" : "");
                         });

TEST(Session, IdenticalResultsForAnyThreadCount) {
  const Loaded l = load(variant("qwen2", false, true, 4, 2));
  const auto one = run_all(*l.model, 5, 1, KvType::F16);
  EXPECT_EQ(one, run_all(*l.model, 5, 2, KvType::F16));
  EXPECT_EQ(one, run_all(*l.model, 5, 4, KvType::F16));
}

// A batch longer than the feed-forward's token pieces (128) against the same tokens run in
// short batches (one piece each): the pieces must cover every token once, in order.
TEST(Session, LongBatchMatchesShortBatches) {
  test::TinyGgufOptions o = variant("llama", false, false, 4, 2);
  o.n_ctx = 512;
  const Loaded l = load(o);
  std::vector<int32_t> tokens(300);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 7 + 3) % 50);
  const auto run = [&](int64_t max_batch) {
    ThreadPool pool(2);
    SessionParams p;
    p.kv_type = KvType::F32;
    p.max_batch = max_batch;
    Session s(*l.model, p, pool);
    const auto lg = s.eval(tokens, static_cast<int64_t>(tokens.size()));
    return std::vector<float>(lg.begin(), lg.end());
  };
  const std::vector<float> long_batch = run(512), short_batches = run(50);
  ASSERT_EQ(long_batch.size(), short_batches.size());
  double diff = 0;
  for (size_t i = 0; i < long_batch.size(); ++i)
    diff = std::max(diff, static_cast<double>(std::abs(long_batch[i] - short_batches[i])));
  EXPECT_LT(diff, 1e-4);  // float rounding only (F32 weights and cache); a skipped piece is O(1)
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Session, BadTokensAndFullContextAreErrors) {
  test::TinyGgufOptions o;
  const Loaded l = load(o);
  ThreadPool pool(2);
  SessionParams p;
  p.n_ctx = 8;
  Session s(*l.model, p, pool);
  const std::vector<int32_t> bad = {1, 50};
  EXPECT_NE(error_of([&] { s.eval(bad); }).find("token id 50"), std::string::npos);
  const std::vector<int32_t> negative = {-1};
  EXPECT_NE(error_of([&] { s.eval(negative); }).find("out of range"), std::string::npos);
  EXPECT_EQ(s.n_past(), 0);
  const std::vector<int32_t> six = {1, 2, 3, 4, 5, 6};
  s.eval(six);
  const std::vector<int32_t> three = {1, 2, 3};
  EXPECT_NE(error_of([&] { s.eval(three); }).find("context is full"), std::string::npos);
  EXPECT_EQ(s.n_past(), 6);
  const std::vector<int32_t> two = {1, 2};
  EXPECT_NO_THROW(s.eval(two));
  EXPECT_NE(error_of([&] { s.eval(std::span<const int32_t>()); }).find("empty"), std::string::npos);
}

TEST(ModelLoad, ErrorsNameTheProblem) {
  test::TinyGgufOptions o;
  o.skip_tensor = "blk.1.ffn_up.weight";
  EXPECT_NE(error_of([&] { load(o); }).find("missing tensor 'blk.1.ffn_up.weight'"), std::string::npos);

  o = {};
  o.misshape_tensor = "blk.0.attn_k.weight";
  const std::string shape_error = error_of([&] { load(o); });
  EXPECT_NE(shape_error.find("blk.0.attn_k.weight"), std::string::npos) << shape_error;
  EXPECT_NE(shape_error.find("shape"), std::string::npos) << shape_error;

  o = {};
  o.arch = "gpt-neox";
  const std::string arch_error = error_of([&] { load(o); });
  EXPECT_NE(arch_error.find("unknown model architecture 'gpt-neox'"), std::string::npos) << arch_error;

  o = {};
  o.arch = "qwen2";  // qwen2 requires Q/K/V biases
  EXPECT_NE(error_of([&] { load(o); }).find("blk.0.attn_q.bias"), std::string::npos);

  o = {};
  o.skip_tensor = "token_embd.weight";
  EXPECT_NE(error_of([&] { load(o); }).find("token_embd.weight"), std::string::npos);
}

TEST(ModelLoad, TiedModelUsesEmbeddingAsHead) {
  test::TinyGgufOptions o;
  o.tied = true;
  const Loaded l = load(o);
  EXPECT_TRUE(l.model->config().tied_embeddings);
  EXPECT_EQ(l.model->output().data, l.model->token_embedding().data);
  EXPECT_EQ(l.model->config().n_vocab, 50);
  EXPECT_EQ(l.model->config().head_dim_k, 8);
  EXPECT_EQ(l.model->layers().size(), 2u);
}

}  // namespace
}  // namespace edgellm::runtime
