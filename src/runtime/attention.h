// Causal grouped-query attention over the KV cache (shared by every architecture whose layers
// store per-head key and value rows). Query head h reads KV head h / (n_head / n_head_kv).
//
// The work is done by a fused, tiled kernel (flash-attention style): a tile of query rows walks
// the KV rows in blocks, keeping per row a running maximum, a running softmax denominator and
// the running weighted sum of values (online softmax), so no score matrix over all positions
// is ever materialized, and the KV rows are read in place from the cache (F16 or F32).
// AttentionTile is that kernel, reusable by any KV layout (e.g. a paged cache: call add() once
// per page).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/kv_cache.h"

namespace edgellm::runtime {

class ThreadPool;

struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;  // per head; key row of the cache is n_head_kv · head_dim_k wide
  int64_t head_dim_v = 0;
  float scale = 0.0f;      // score multiplier, usually 1/sqrt(head_dim_k)
};

// q: n_tokens rows of n_head·head_dim_k (position pos0 + t for row t, RoPE already applied).
// The cache must already hold keys/values for positions [0, pos0 + n_tokens).
// out: n_tokens rows of n_head·head_dim_v. Token t attends to positions 0 .. pos0 + t.
// Work is split over (KV head × tile of query tokens); results do not depend on the thread
// count.
void attention(const AttentionShape& shape, const KvCache& kv, int layer, const float* q,
               int64_t pos0, int64_t n_tokens, float* out, ThreadPool& pool);

// A run of consecutive positions [pos_begin, pos_begin + n_pos) of one KV head: position
// pos_begin + j has its key row at k + j * k_stride and its value row at v + j * v_stride
// (strides in elements; elements are F16 bits (uint16_t) or floats per `type`).
struct KvRows {
  KvType type = KvType::F32;
  const void* k = nullptr;
  size_t k_stride = 0;
  const void* v = nullptr;
  size_t v_stride = 0;
  int64_t pos_begin = 0;
  int64_t n_pos = 0;
};

// Online-softmax attention of up to max_rows query rows (all reading the same KV head):
//   begin(q, q_stride, n_rows, n_visible): row i is q + i * q_stride (head_dim_k floats) and
//     attends to positions [0, n_visible[i]) (n_visible is copied);
//   add(rows): folds in a run of KV positions (any order of runs; positions a row does not see
//     are skipped);
//   finish(out, out_stride): row i's result (head_dim_v floats) to out + i * out_stride; a row
//     that saw no position gets zeros.
// Holds its buffers, so one object per thread serves many tiles without allocating.
class AttentionTile {
 public:
  AttentionTile(int64_t max_rows, int64_t head_dim_k, int64_t head_dim_v, float scale);
  ~AttentionTile();  // leaves its buffers to the next tile made on this thread
  AttentionTile(const AttentionTile&) = delete;
  AttentionTile& operator=(const AttentionTile&) = delete;
  void begin(const float* q, size_t q_stride, int64_t n_rows, const int64_t* n_visible);
  void add(const KvRows& rows);
  void finish(float* out, size_t out_stride);

  static constexpr int64_t kBlock = 64;  // KV positions scored together (one online-softmax step)

  // Inner loops, chosen by the kernel level: portable, AVX2 one row at a time, or AVX-512
  // with several rows sharing each converted K/V vector.
  enum class Loops : uint8_t { Portable, Avx2, Avx512 };

  // Per row: visible positions, running max, Σ exp, Σ exp · v (acc, max_rows x dv); scores
  // (max_rows x kBlock); rows that see part of the current block; scratch for converted or
  // transposed keys (kbuf) and converted values (vbuf). A tile leaves them to the next tile made
  // on its thread (attention.cpp).
  struct Buffers {
    std::vector<int64_t> visible, active;
    std::vector<float> max, denom, acc, scores, kbuf, vbuf;
  };

 private:
  void add_block(const uint8_t* k, size_t ks, const uint8_t* v, size_t vs, bool f16, int64_t pos_begin,
                 int64_t n);

  int64_t max_rows_, dk_, dv_;
  float scale_;
  Loops loops_;
  const float* q_ = nullptr;
  size_t q_stride_ = 0;
  int64_t n_rows_ = 0;
  Buffers b_;
};

}  // namespace edgellm::runtime
