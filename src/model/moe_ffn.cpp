#include "model/moe_ffn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "kernels/ops.h"
#include "model/grouped_matmul.h"
#include "model/weights.h"
#include "runtime/scratch.h"
#include "runtime/thread_pool.h"

namespace edgellm::model {

namespace {

namespace tn = gguf::tensor;
using gguf::block_tensor;

// Scratch slots of the MoE FFN (the block's attention uses lower ones; the session's start at 32).
enum Slot : size_t { kLogits = 16, kGather, kGate, kUp, kExpertOut, kSharedOut, kActivations };

size_t matrix_bytes(const kernels::WeightMatrix& m) { return m.row_stride() * static_cast<size_t>(m.rows); }

// Indices 0..n-1 ordered by descending value (ties: lower index first), first k of them.
void top_k(const float* v, int64_t n, int64_t k, std::vector<int32_t>& idx) {
  idx.resize(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [v](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(static_cast<size_t>(k));
}

}  // namespace

void swiglu_rows(float* gate, const float* up, int64_t n, int64_t width, runtime::ThreadPool& pool) {
  runtime::for_tokens(pool, n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) kernels::swiglu(gate + r * width, up + r * width, width);
  });
}

void swiglu_ffn(const SwigluWeights& w, const float* x, int64_t n, float* y, float* gate_buf,
                float* up_buf, runtime::ThreadPool& pool) {
  kernels::matmul(w.gate, x, n, gate_buf, pool);
  kernels::matmul(w.up, x, n, up_buf, pool);
  swiglu_rows(gate_buf, up_buf, n, w.gate.rows, pool);
  kernels::matmul(w.down, gate_buf, n, y, pool);
}

MoeWeights load_moe_weights(const WeightLoader& w, const MoeParams& p, int i) {
  MoeWeights m;
  m.router = w.projection(block_tensor(i, tn::kFfnGateInp), p.n_expert, p.n_embd);
  if (auto b = w.optional_vector(block_tensor(i, tn::kFfnExpProbsBias, "bias"), p.n_expert)) m.selection_bias = std::move(*b);
  const auto gate = w.stacked_projections(block_tensor(i, tn::kFfnGateExps), p.n_expert, p.n_ff_exp, p.n_embd);
  const auto up = w.stacked_projections(block_tensor(i, tn::kFfnUpExps), p.n_expert, p.n_ff_exp, p.n_embd);
  const auto down = w.stacked_projections(block_tensor(i, tn::kFfnDownExps), p.n_expert, p.n_embd, p.n_ff_exp);
  for (int64_t e = 0; e < p.n_expert; ++e) {
    const auto s = static_cast<size_t>(e);
    m.experts.push_back({gate[s], up[s], down[s]});
  }
  if (p.n_expert_shared > 0) {
    const int64_t ff = p.n_ff_exp * p.n_expert_shared;
    m.shared = SwigluWeights{w.projection(block_tensor(i, tn::kFfnGateShexp), ff, p.n_embd),
                             w.projection(block_tensor(i, tn::kFfnUpShexp), ff, p.n_embd),
                             w.projection(block_tensor(i, tn::kFfnDownShexp), p.n_embd, ff)};
  }
  return m;
}

void route_tokens(const MoeParams& p, const float* logits, const std::vector<float>& bias,
                  int64_t n_tokens, Routing& out) {
  const int64_t n_exp = p.n_expert, k = p.n_expert_used;
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != n_exp) fail("moe: expert bias has {} values for {} experts", bias.size(), n_exp);
  out.expert.resize(static_cast<size_t>(n_tokens * k));
  out.weight.resize(static_cast<size_t>(n_tokens * k));
  std::vector<float> probs(static_cast<size_t>(n_exp)), select(static_cast<size_t>(n_exp));
  std::vector<float> group_score;
  std::vector<int32_t> idx, groups;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* l = logits + t * n_exp;
    std::copy(l, l + n_exp, probs.begin());
    if (p.gating == ExpertGating::Softmax) {
      kernels::softmax(probs.data(), n_exp);
    } else {
      for (float& v : probs) v = 1.0f / (1.0f + std::exp(-v));
    }
    for (int64_t e = 0; e < n_exp; ++e)
      select[static_cast<size_t>(e)] = probs[static_cast<size_t>(e)] + (bias.empty() ? 0.0f : bias[static_cast<size_t>(e)]);

    if (p.n_group > 1) {
      // A group's score is the sum of its two best selection scores (one when it has one expert).
      const int64_t per_group = n_exp / p.n_group;
      group_score.assign(static_cast<size_t>(p.n_group), 0.0f);
      for (int64_t g = 0; g < p.n_group; ++g) {
        top_k(select.data() + g * per_group, per_group, std::min<int64_t>(2, per_group), idx);
        for (int32_t j : idx) group_score[static_cast<size_t>(g)] += select[static_cast<size_t>(g * per_group + j)];
      }
      top_k(group_score.data(), p.n_group, p.n_group_used, groups);
      std::vector<bool> keep(static_cast<size_t>(p.n_group), false);
      for (int32_t g : groups) keep[static_cast<size_t>(g)] = true;
      for (int64_t e = 0; e < n_exp; ++e)
        if (!keep[static_cast<size_t>(e / per_group)]) select[static_cast<size_t>(e)] = kNegInf;
    }

    top_k(select.data(), n_exp, k, idx);
    int32_t* ex = out.expert.data() + t * k;
    float* wt = out.weight.data() + t * k;
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      ex[j] = idx[static_cast<size_t>(j)];
      wt[j] = probs[static_cast<size_t>(ex[j])];
      sum += wt[j];
    }
    if (p.norm_weights) {
      sum = std::max(sum, 6.103515625e-5f);  // llama.cpp clamps to F16's smallest normal
      for (int64_t j = 0; j < k; ++j) wt[j] /= sum;
    }
    if (p.weights_scale != 1.0f)
      for (int64_t j = 0; j < k; ++j) wt[j] *= p.weights_scale;
  }
}

MoeFfn::MoeFfn(const MoeParams& params, MoeWeights weights) : p_(params), w_(std::move(weights)) {}

void MoeFfn::forward(const float* x, int64_t n, float* y, runtime::Scratch& scratch,
                     runtime::ThreadPool& pool) const {
  const int64_t n_embd = p_.n_embd, k = p_.n_expert_used, ff = p_.n_ff_exp;
  const auto sz = [](int64_t a) { return static_cast<size_t>(a); };
  float* logits = scratch.get(kLogits, sz(n * p_.n_expert));
  // Rows of the sorted (token, slot) pairs, then the shared experts' n rows, in one gate, up and
  // output buffer.
  const int64_t n_pairs = n * k;
  const int64_t ff_shared = w_.shared ? w_.shared->gate.rows : 0;
  const int64_t hidden = n_pairs * ff + n * ff_shared;
  float* gate = scratch.get(kGate, sz(hidden));
  float* up = scratch.get(kUp, sz(hidden));
  float* ye = scratch.get(kExpertOut, sz(n_pairs * n_embd));
  float* shared_out = scratch.get(kSharedOut, sz(n * n_embd));
  float* gate_shared = gate + n_pairs * ff;
  float* up_shared = up + n_pairs * ff;

  // The router and the shared experts read x and not the routing: one dispatch, so the router
  // (0.5 MB of F32 in V2-Lite, which alone streamed at ~0.5 of the read bound) rides in the
  // shared experts' stream.
  std::vector<MatmulTask> first = {{w_.router, x, n_embd, n, logits, p_.n_expert}};
  if (w_.shared) {
    first.push_back({w_.shared->gate, x, n_embd, n, gate_shared, ff_shared});
    first.push_back({w_.shared->up, x, n_embd, n, up_shared, ff_shared});
  }
  grouped_matmul(first, scratch, kActivations, pool);
  Routing r;
  route_tokens(p_, logits, w_.selection_bias, n, r);

  // Group the (token, slot) pairs by expert so that each selected expert runs once, over all
  // of its tokens: pair_of[start[e] .. start[e+1]) are expert e's pairs.
  std::vector<int64_t> start(sz(p_.n_expert + 1), 0);
  for (int32_t e : r.expert) ++start[sz(e + 1)];
  for (int64_t e = 0; e < p_.n_expert; ++e) start[sz(e + 1)] += start[sz(e)];
  std::vector<int64_t> pair_of(sz(n * k)), fill(start.begin(), start.end() - 1);
  for (int64_t i = 0; i < n * k; ++i) pair_of[sz(fill[sz(r.expert[sz(i)])]++)] = i;

  // A single token multiplies x itself; a batch gathers each expert's tokens contiguously.
  const float* xe = x;
  if (n > 1) {
    float* gathered = scratch.get(kGather, sz(n_pairs * n_embd));
    runtime::for_tokens(pool, n_pairs, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t t = pair_of[sz(i)] / k;
        std::copy(x + t * n_embd, x + (t + 1) * n_embd, gathered + i * n_embd);
      }
    });
    xe = gathered;
  }

  std::vector<MatmulTask> in_tasks, out_tasks;
  for (int64_t e = 0; e < p_.n_expert; ++e) {
    const int64_t begin = start[sz(e)], m = start[sz(e + 1)] - begin;
    if (m == 0) continue;
    const SwigluWeights& ew = w_.experts[sz(e)];
    const float* xin = n > 1 ? xe + begin * n_embd : x;
    in_tasks.push_back({ew.gate, xin, n_embd, m, gate + begin * ff, ff});
    in_tasks.push_back({ew.up, xin, n_embd, m, up + begin * ff, ff});
    out_tasks.push_back({ew.down, gate + begin * ff, ff, m, ye + begin * n_embd, n_embd});
  }
  if (w_.shared) out_tasks.push_back({w_.shared->down, gate_shared, ff_shared, n, shared_out, n_embd});
  grouped_matmul(in_tasks, scratch, kActivations, pool);
  swiglu_rows(gate, up, n_pairs, ff, pool);
  if (w_.shared) swiglu_rows(gate_shared, up_shared, n, ff_shared, pool);
  grouped_matmul(out_tasks, scratch, kActivations, pool);

  // y = Σ weight · expert output, experts in index order (= sorted-pair order), then the shared
  // experts; token by token.
  std::vector<int64_t> sorted_at(sz(n_pairs));
  for (int64_t i = 0; i < n_pairs; ++i) sorted_at[sz(pair_of[sz(i)])] = i;
  runtime::for_tokens(pool, n, [&](int64_t t0, int64_t t1) {
    std::vector<int64_t> rows(sz(k));
    for (int64_t t = t0; t < t1; ++t) {
      float* yt = y + t * n_embd;
      std::fill(yt, yt + n_embd, 0.0f);
      std::copy(sorted_at.begin() + t * k, sorted_at.begin() + (t + 1) * k, rows.begin());
      std::sort(rows.begin(), rows.end());
      for (const int64_t i : rows) {
        const float wt = r.weight[sz(pair_of[sz(i)])];
        const float* src = ye + i * n_embd;
        for (int64_t d = 0; d < n_embd; ++d) yt[d] += wt * src[d];
      }
      if (w_.shared) kernels::add_inplace(yt, shared_out + t * n_embd, n_embd);
    }
  });
}

size_t MoeFfn::active_bytes_per_token() const {
  size_t total = matrix_bytes(w_.router);
  if (!w_.experts.empty()) {
    const SwigluWeights& e = w_.experts.front();
    total += static_cast<size_t>(p_.n_expert_used) * (matrix_bytes(e.gate) + matrix_bytes(e.up) + matrix_bytes(e.down));
  }
  if (w_.shared) total += matrix_bytes(w_.shared->gate) + matrix_bytes(w_.shared->up) + matrix_bytes(w_.shared->down);
  return total;
}

}  // namespace edgellm::model
