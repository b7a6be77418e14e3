// DeepSeek-V2-Lite-shaped MLA attention (n_embd 2048, 16 heads, nope 128 + rope 64, v 128,
// kv_lora_rank 512, F32 random weights): time of one layer's forward in the absorbed and the
// decompressed order for a batch of n tokens after pos0 cached ones, to calibrate
// MlaAttention::choose_path. Args: pos0, n_tokens, path (0 absorbed, 1 decompressed).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/rope.h"
#include "model/mla_attention.h"
#include "runtime/kv_cache.h"
#include "runtime/scratch.h"
#include "runtime/thread_pool.h"

namespace {

using edgellm::kernels::WeightMatrix;

struct Lite {
  edgellm::model::MlaParams p;
  std::vector<std::vector<float>> storage;
  edgellm::model::MlaWeights w;

  WeightMatrix matrix(int64_t rows, int64_t cols, std::mt19937& rng) {
    std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(cols)));
    storage.emplace_back(static_cast<size_t>(rows * cols));
    for (float& v : storage.back()) v = normal(rng);
    return {edgellm::TensorType::F32, rows, cols, reinterpret_cast<const uint8_t*>(storage.back().data())};
  }

  Lite() {
    p.n_embd = 2048, p.n_head = 16, p.kv_lora_rank = 512, p.head_dim_nope = 128, p.head_dim_rope = 64;
    p.head_dim_v = 128, p.kq_scale = 1.0f / std::sqrt(192.0f);
    std::mt19937 rng(1);
    storage.reserve(64);
    w.wq = matrix(16 * 192, 2048, rng);
    w.wkv_a = matrix(576, 2048, rng);
    w.kv_a_norm.assign(512, 1.0f);
    for (int h = 0; h < 16; ++h) {
      w.uk.push_back(matrix(512, 128, rng));
      w.uv.push_back(matrix(128, 512, rng));
    }
    w.wo = matrix(2048, 16 * 128, rng);
  }
};

void BM_MlaLayer(benchmark::State& state) {
  static const Lite lite;
  const int64_t pos0 = state.range(0), n = state.range(1);
  const auto path = state.range(2) == 0 ? edgellm::model::MlaPath::Absorbed : edgellm::model::MlaPath::Decompressed;
  const edgellm::model::MlaAttention attn(lite.p, lite.w);
  edgellm::kernels::RopeParams rp;
  rp.n_dims = 64;
  const edgellm::kernels::Rope rope(rp);
  edgellm::runtime::ThreadPool pool(1);
  edgellm::runtime::KvCache kv(pos0 + n, {{576, 0}}, edgellm::runtime::KvType::F16);
  edgellm::runtime::Scratch scratch;
  std::vector<float> x(static_cast<size_t>(std::max(pos0, n) * 2048), 0.5f), y(x.size());
  std::vector<float> cos(static_cast<size_t>(std::max(pos0, n) * 32)), sin(cos.size());
  if (pos0 > 0) {  // fill the cache with pos0 tokens first
    rope.angles(0, pos0, cos.data(), sin.data());
    edgellm::model::LayerContext ctx{pool, kv, scratch, rope, cos.data(), sin.data(), 0, pos0};
    attn.forward(0, x.data(), y.data(), ctx, edgellm::model::MlaPath::Decompressed);
  }
  rope.angles(pos0, n, cos.data(), sin.data());
  for (auto _ : state) {
    edgellm::model::LayerContext ctx{pool, kv, scratch, rope, cos.data(), sin.data(), pos0, n};
    attn.forward(0, x.data(), y.data(), ctx, path);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(attn.choose_path(pos0, n) == edgellm::model::MlaPath::Absorbed ? "model: absorbed" : "model: decompressed");
}

BENCHMARK(BM_MlaLayer)
    ->ArgsProduct({{0}, {16, 64, 256}, {0, 1}})
    ->ArgsProduct({{512, 2048}, {1, 16}, {0, 1}})
    ->ArgsProduct({{0}, {512, 2048}, {0, 1}})   // long prompts (the server's prefill steps)
    ->ArgsProduct({{1536}, {512}, {0, 1}})      // a prompt's last 512-token chunk
    ->Unit(benchmark::kMillisecond);

}  // namespace
BENCHMARK_MAIN();
