// IQ4_NL: 32-element blocks of 4-bit indices into the non-linear codebook kIq4nlValues with an
// fp16 scale. Follows ggml's quantize_iq4_nl (the path ggml_quantize_chunk, hence
// llama-quantize, takes with and without an imatrix): weights x^2 or importance * sqrt(sigma2 +
// x^2), a 15-step scale search (ntry = 7), then the final indices from the fp32 scale.
// (quantize_row_iq4_nl_ref, ntry = -1, is only used by ggml for activations and is not offered.)
#include <cmath>

#include "core/fp16.h"
#include "kernels/quant/quant_blocks.h"
#include "kernels/quant/quant_kernels.h"
#include "kernels/quant/quant_search.h"

namespace edgellm::quant::detail {
namespace {

constexpr int kScaleTrials = 7;     // ggml's ntry: inverse scales (t - 127) / max, t = -7..7
constexpr float kGroupMaxEps = 1e-15f;

int codebook_index(float x) { return nearest_codebook_index(16, kIq4nlValues.data(), x); }

// Weighted least-squares scale for the indices chosen at inverse scale id; returns the pair
// (sum w*q*x, sum w*q^2) through the out parameters.
void fit_at(const float* xb, const float* weight, float id, float* sumqx, float* sumq2) {
  *sumqx = *sumq2 = 0;
  for (int j = 0; j < kQK; ++j) {
    const float q = kIq4nlValues[codebook_index(id * xb[j])];
    *sumqx += weight[j] * q * xb[j];
    *sumq2 += weight[j] * q * q;
  }
}

void quantize_iq4_nl_block(const float* xb, const float* importance, BlockIQ4_NL& b) {
  float weight[kQK];
  if (importance) {
    float sigma2 = 0;
    for (int j = 0; j < kQK; ++j) sigma2 += xb[j] * xb[j];
    sigma2 *= 2.f / kQK;
    for (int j = 0; j < kQK; ++j) weight[j] = importance[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
  } else {
    for (int j = 0; j < kQK; ++j) weight[j] = xb[j] * xb[j];
  }
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    if (std::fabs(xb[j]) > amax) {
      amax = std::fabs(xb[j]);
      max = xb[j];
    }
  }
  float scale = 0;
  if (amax >= kGroupMaxEps) {
    const float first = static_cast<float>(kIq4nlValues[0]);
    float sumqx = 0, sumq2 = 0;
    fit_at(xb, weight, 1 / (-max / first), &sumqx, &sumq2);
    // Newer ggml guards this division; older versions give NaN when all weights are zero.
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int t = -kScaleTrials; t <= kScaleTrials; ++t) {
      fit_at(xb, weight, static_cast<float>(t + kIq4nlValues[0]) / max, &sumqx, &sumq2);
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scale = d;
  }
  b.d = fp32_to_fp16(scale);
  const float id = scale != 0 ? 1 / scale : 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const int lo = codebook_index(id * xb[j]), hi = codebook_index(id * xb[j + kQK / 2]);
    b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

}  // namespace

void dequantize_iq4_nl(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockIQ4_NL>(src + i * sizeof(BlockIQ4_NL));
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = d * static_cast<float>(kIq4nlValues[b.qs[j] & 0xF]);
      dst[j + kQK / 2] = d * static_cast<float>(kIq4nlValues[b.qs[j] >> 4]);
    }
  }
}

void quantize_row_iq4_nl(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  for (int64_t i = 0; i < row_len / kQK; ++i) {
    BlockIQ4_NL b{};
    quantize_iq4_nl_block(x + i * kQK, importance ? importance + i * kQK : nullptr, b);
    store_block(b, dst + i * sizeof(BlockIQ4_NL));
  }
}

}  // namespace edgellm::quant::detail
