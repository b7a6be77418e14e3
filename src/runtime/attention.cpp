#include "runtime/attention.h"

#include <algorithm>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {

namespace {
constexpr int64_t kTokenChunk = 32;  // query tokens sharing one copy of a KV head's rows
}

void attention(const AttentionShape& s, const KvCache& kv, int layer, const float* q,
               int64_t pos0, int64_t n_tokens, float* out, ThreadPool& pool) {
  if (s.n_head <= 0 || s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0)
    fail("attention: {} query heads cannot be grouped over {} KV heads", s.n_head, s.n_head_kv);
  const KvLayerShape& ks = kv.shape(layer);
  if (ks.k_width < s.n_head_kv * s.head_dim_k || ks.v_width < s.n_head_kv * s.head_dim_v)
    fail("attention: KV cache rows of layer {} are narrower than {} heads", layer, s.n_head_kv);
  if (pos0 < 0 || pos0 + n_tokens > kv.n_ctx())
    fail("attention: positions {}..{} exceed the context of {}", pos0, pos0 + n_tokens - 1, kv.n_ctx());
  if (n_tokens <= 0) return;

  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t n_chunks = (n_tokens + kTokenChunk - 1) / kTokenChunk;
  const int64_t n_items = s.n_head_kv * n_chunks;
  const int64_t q_stride = s.n_head * s.head_dim_k;
  const int64_t o_stride = s.n_head * s.head_dim_v;

  pool.parallel_for(n_items, 1, [&](int64_t item_begin, int64_t item_end) {
    std::vector<float> keys, values, scores;
    for (int64_t item = item_begin; item < item_end; ++item) {
      const int64_t g = item / n_chunks;
      const int64_t t0 = (item % n_chunks) * kTokenChunk;
      const int64_t t1 = std::min(n_tokens, t0 + kTokenChunk);
      const int64_t n_pos = pos0 + t1;  // positions visible to the last token of the chunk
      keys.resize(static_cast<size_t>(n_pos * s.head_dim_k));
      values.resize(static_cast<size_t>(n_pos * s.head_dim_v));
      scores.resize(static_cast<size_t>(n_pos));
      kv.read_k(layer, n_pos, g * s.head_dim_k, s.head_dim_k, keys.data());
      kv.read_v(layer, n_pos, g * s.head_dim_v, s.head_dim_v, values.data());
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n_visible = pos0 + t + 1;
        for (int64_t h = g * group; h < (g + 1) * group; ++h) {
          const float* qh = q + t * q_stride + h * s.head_dim_k;
          for (int64_t p = 0; p < n_visible; ++p)
            scores[static_cast<size_t>(p)] =
                kernels::dot_f32(qh, keys.data() + p * s.head_dim_k, s.head_dim_k) * s.scale;
          kernels::softmax(scores.data(), n_visible);
          float* oh = out + t * o_stride + h * s.head_dim_v;
          std::fill(oh, oh + s.head_dim_v, 0.0f);
          for (int64_t p = 0; p < n_visible; ++p) {
            const float w = scores[static_cast<size_t>(p)];
            const float* vp = values.data() + p * s.head_dim_v;
            for (int64_t d = 0; d < s.head_dim_v; ++d) oh[d] += w * vp[d];
          }
        }
      }
    }
  });
}

}  // namespace edgellm::runtime
