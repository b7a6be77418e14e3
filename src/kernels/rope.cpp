#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace edgellm::kernels {

namespace {

// YaRN: the dimension (in pair-index units of n_dims) at which a frequency completes n_rot
// rotations over the original context.
double yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, double n_rot, double base) {
  return static_cast<double>(n_dims) *
         std::log(static_cast<double>(n_ctx_orig) / (n_rot * 2.0 * std::numbers::pi)) /
         (2.0 * std::log(base));
}

}  // namespace

Rope::Rope(RopeParams params) : params_(std::move(params)) {
  const RopeParams& p = params_;
  if (p.n_dims <= 0 || p.n_dims % 2 != 0) fail("rope: dimension count {} must be positive and even", p.n_dims);
  if (!(p.freq_base > 0.0) || !std::isfinite(p.freq_base)) fail("rope: bad frequency base {}", p.freq_base);
  if (p.scaling != RopeScaling::None && (!(p.scaling_factor > 0.0) || !std::isfinite(p.scaling_factor)))
    fail("rope: bad scaling factor {}", p.scaling_factor);
  if (p.scaling == RopeScaling::Yarn && p.n_ctx_orig <= 0)
    fail("rope: YaRN scaling needs the original context length (rope.scaling.original_context_length)");
  const int64_t half = p.n_dims / 2;
  if (!p.freq_factors.empty() && static_cast<int64_t>(p.freq_factors.size()) != half)
    fail("rope: {} frequency factors given, expected n_dims/2 = {}", p.freq_factors.size(), half);
  for (float f : p.freq_factors)
    if (!(f > 0.0f) || !std::isfinite(f)) fail("rope: frequency factor {} is not positive", f);

  const double freq_scale = p.scaling == RopeScaling::None ? 1.0 : 1.0 / p.scaling_factor;
  double corr_low = 0.0, corr_high = 0.0;
  if (p.scaling == RopeScaling::Yarn) {
    corr_low = std::max(0.0, std::floor(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.yarn_beta_fast, p.freq_base)));
    corr_high = std::min(static_cast<double>(p.n_dims - 1),
                         std::ceil(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.yarn_beta_slow, p.freq_base)));
  }
  inv_freq_.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(p.freq_base, -2.0 * static_cast<double>(i) / static_cast<double>(p.n_dims));
    if (!p.freq_factors.empty()) f /= p.freq_factors[static_cast<size_t>(i)];
    double mix = 0.0;  // share of the extrapolated (unscaled) frequency
    if (p.scaling == RopeScaling::Yarn) {
      const double y = (static_cast<double>(i) - corr_low) / std::max(0.001, corr_high - corr_low);
      mix = 1.0 - std::clamp(y, 0.0, 1.0);
    }
    inv_freq_[static_cast<size_t>(i)] = f * (freq_scale * (1.0 - mix) + mix);
  }
  mscale_ = p.attn_factor;
  if (p.scaling == RopeScaling::Yarn) mscale_ *= 1.0 + 0.1 * std::log(p.scaling_factor);
}

void Rope::angles(int64_t pos0, int64_t n_tokens, float* cos, float* sin) const {
  const int64_t half = n_pairs();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const double pos = static_cast<double>(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const double theta = pos * inv_freq_[static_cast<size_t>(i)];
      cos[t * half + i] = static_cast<float>(std::cos(theta) * mscale_);
      sin[t * half + i] = static_cast<float>(std::sin(theta) * mscale_);
    }
  }
}

void Rope::apply(float* x, int64_t n_heads, int64_t head_stride, const float* cos,
                 const float* sin) const {
  const int64_t half = n_pairs();
  // Normal: pair i is (2i, 2i+1); NeoX: pair i is (i, i + half).
  const int64_t step = params_.style == RopeStyle::Normal ? 2 : 1;
  const int64_t other = params_.style == RopeStyle::Normal ? 1 : half;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_stride;
    for (int64_t i = 0; i < half; ++i) {
      float* a = head + i * step;
      float* b = a + other;
      const float x0 = *a, x1 = *b;
      *a = x0 * cos[i] - x1 * sin[i];
      *b = x0 * sin[i] + x1 * cos[i];
    }
  }
}

}  // namespace edgellm::kernels
