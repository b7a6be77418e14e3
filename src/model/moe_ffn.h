// DeepSeekMoE feed-forward on CPU, llama.cpp's semantics (build_moe_ffn):
//   probs  = softmax(router·x) or sigmoid(router·x)
//   select = probs (+ exp_probs_b, V3 style: the bias steers selection only)
//   group limit (expert_group_count > 1): a group scores the sum of its two best `select`
//     values; experts outside the best expert_group_used_count groups are excluded
//   top-k experts by `select`; weights = their probs, renormalized to sum 1 when
//     expert_weights_norm, then times expert_weights_scale
//   y = Σ_k weight_k · SwiGLU_expert_k(x) + SwiGLU_shared(x)
// Only the selected experts' weights are read: the tokens of a batch are grouped by expert
// and each selected expert runs one matmul over its tokens, on a view of its slice of the
// stacked [n_expert × rows × cols] tensors.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/matmul.h"
#include "model/deepseek2_params.h"

namespace edgellm::runtime {
class ThreadPool;
class Scratch;
}  // namespace edgellm::runtime

namespace edgellm::model {

class WeightLoader;

// A SwiGLU FFN: down · (silu(gate·x) ⊙ up·x).
struct SwigluWeights {
  kernels::WeightMatrix gate, up, down;
};

// gate = silu(gate) ⊙ up for n rows of `width`, on the pool from runtime::kParallelTokens rows;
// row by row, so a row's vector / tail split does not depend on how the rows are spread.
void swiglu_rows(float* gate, const float* up, int64_t n, int64_t width, runtime::ThreadPool& pool);

// y (n_tokens × down.rows) = SwiGLU(x); gate_buf/up_buf hold n_tokens × gate.rows floats.
void swiglu_ffn(const SwigluWeights& w, const float* x, int64_t n_tokens, float* y,
                float* gate_buf, float* up_buf, runtime::ThreadPool& pool);

struct MoeWeights {
  kernels::WeightMatrix router;        // n_expert × n_embd (ffn_gate_inp)
  std::vector<float> selection_bias;   // n_expert (exp_probs_b) or empty
  std::vector<SwigluWeights> experts;  // views into ffn_{gate,up,down}_exps
  std::optional<SwigluWeights> shared; // *_shexp when n_expert_shared > 0
};

// Loads blk.<layer>.ffn_gate_inp / exp_probs_b / ffn_*_exps / ffn_*_shexp; throws naming a
// missing or misshapen tensor.
MoeWeights load_moe_weights(const WeightLoader& w, const MoeParams& p, int layer);

// The experts chosen for each token: expert[t·k + j] with weight[t·k + j], j < k = n_expert_used.
struct Routing {
  std::vector<int32_t> expert;
  std::vector<float> weight;
};

// Routes n_tokens tokens from their router logits (n_tokens × n_expert); bias as in MoeWeights.
void route_tokens(const MoeParams& p, const float* logits, const std::vector<float>& bias,
                  int64_t n_tokens, Routing& out);

class MoeFfn {
 public:
  MoeFfn(const MoeParams& params, MoeWeights weights);
  // x: n_tokens × n_embd (normalized), y: n_tokens × n_embd (overwritten).
  void forward(const float* x, int64_t n_tokens, float* y, runtime::Scratch& scratch,
               runtime::ThreadPool& pool) const;
  // Weight bytes one token reads: router, k routed experts, shared experts.
  size_t active_bytes_per_token() const;

 private:
  MoeParams p_;
  MoeWeights w_;
};

}  // namespace edgellm::model
