// Rotary position embedding exactly as llama.cpp's GGUF files expect it:
//  - Normal (GGUF arch llama): rotates adjacent pairs (x[2i], x[2i+1]); the converter permutes
//    the Q/K rows of Hugging Face checkpoints so that this equals HF's rotate_half.
//  - NeoX (qwen2 and most newer families): rotates (x[i], x[i + n_dims/2]), HF's convention.
// Pair i turns by pos · base^(-2i/n_dims) / freq_factor[i], with linear or YaRN scaling applied
// to that frequency and YaRN's magnitude scale applied to cos and sin (ggml's rope_yarn).
#pragma once

#include <cstdint>
#include <vector>

namespace edgellm::kernels {

enum class RopeStyle { Normal, NeoX };
enum class RopeScaling { None, Linear, Yarn };

struct RopeParams {
  RopeStyle style = RopeStyle::Normal;
  int64_t n_dims = 0;          // rotated dimensions per head (even, <= head dim)
  double freq_base = 10000.0;
  RopeScaling scaling = RopeScaling::None;
  double scaling_factor = 1.0;  // linear / YaRN: context extension factor (freq_scale = 1/factor)
  int64_t n_ctx_orig = 0;       // YaRN: the original training context
  double yarn_beta_fast = 32.0;
  double yarn_beta_slow = 1.0;
  double attn_factor = 1.0;     // extra magnitude factor on cos/sin (rope.scaling.attn_factor)
  std::vector<float> freq_factors;  // n_dims/2 frequency divisors (Llama 3 rope_freqs) or empty
};

class Rope {
 public:
  Rope() = default;
  // Validates the parameters (edgellm::Error naming the bad one).
  explicit Rope(RopeParams params);

  const RopeParams& params() const { return params_; }
  int64_t n_pairs() const { return params_.n_dims / 2; }

  // cos/sin of every pair for positions pos0 .. pos0+n_tokens-1 (n_tokens × n_pairs() each).
  void angles(int64_t pos0, int64_t n_tokens, float* cos, float* sin) const;

  // Rotates the first n_dims of each of n_heads heads (head h at x + h·head_stride) with one
  // token's cos/sin rows from angles().
  void apply(float* x, int64_t n_heads, int64_t head_stride, const float* cos,
             const float* sin) const;

 private:
  RopeParams params_;
  std::vector<double> inv_freq_;  // effective angle per unit position for each pair
  double mscale_ = 1.0;
};

}  // namespace edgellm::kernels
