// Q2_K and Q3_K: 256-element super-blocks of sixteen 16-element sub-blocks with 4-bit (Q2_K)
// or 6-bit (Q3_K) sub-block scales. Without importance weights these follow ggml's
// quantize_row_q2_K_ref / quantize_row_q3_K_ref, with weights quantize_row_q2_K_impl /
// quantize_row_q3_K_impl: exactly the choice ggml's quantize_q2_K / quantize_q3_K make, which is
// what llama-quantize calls without / with an imatrix.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant/quant_blocks.h"
#include "kernels/quant/quant_kernels.h"
#include "kernels/quant/quant_search.h"

namespace edgellm::quant::detail {
namespace {

constexpr int kSub = 16;                 // elements per sub-block
constexpr int kSubBlocks = kQK_K / kSub;  // sub-blocks per super-block

// 2-bit levels: per 128-element half, byte l of the half holds elements l, l+32, l+64, l+96.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int half = 0; half < kQK_K; half += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[half / 4 + l] = static_cast<uint8_t>(L[half + l] | (L[half + l + 32] << 2) | (L[half + l + 64] << 4) |
                                              (L[half + l + 96] << 6));
    }
  }
}

float super_block_sum_squares(const float* x) {
  float sum = 0;
  for (int j = 0; j < kQK_K; ++j) sum += x[j] * x[j];
  return sum;
}

// --- Q2_K -------------------------------------------------------------------------------

// Final 2-bit levels from the stored (fp16-rounded) scales; sub-blocks whose scale is zero keep
// the levels of the search, as in ggml.
void requantize_q2_k(const float* x, const BlockQ2_K& b, uint8_t* L) {
  const float d_all = fp16_to_fp32(b.d), dmin_all = fp16_to_fp32(b.dmin);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float d = d_all * static_cast<float>(b.scales[j] & 0xF);
    if (d == 0) continue;
    const float dm = dmin_all * static_cast<float>(b.scales[j] >> 4);
    for (int ii = 0; ii < kSub; ++ii)
      L[kSub * j + ii] = static_cast<uint8_t>(std::clamp(nearest_int((x[kSub * j + ii] + dm) / d), 0, 3));
  }
}

void quantize_q2_k_ref(const float* x, BlockQ2_K& b) {
  constexpr float kScaleMax = 15.f;
  uint8_t L[kQK_K];
  float weights[kSub], mins[kSubBlocks], scales[kSubBlocks];
  float max_scale = 0, max_min = 0;  // scales and mins are both >= 0 here
  for (int j = 0; j < kSubBlocks; ++j) {
    for (int l = 0; l < kSub; ++l) weights[l] = std::fabs(x[kSub * j + l]);
    scales[j] = fit_scale_and_min(kSub, 3, x + kSub * j, weights, L + kSub * j, &mins[j],
                                  ScaleMinSearch{-0.5f, 0.1f, 15, true});
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  if (max_scale > 0) {
    const float iscale = kScaleMax / max_scale;
    for (int j = 0; j < kSubBlocks; ++j) b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    b.d = fp32_to_fp16(max_scale / kScaleMax);
  } else {
    std::fill(std::begin(b.scales), std::end(b.scales), uint8_t{0});
    b.d = fp32_to_fp16(0.f);
  }
  if (max_min > 0) {
    const float iscale = kScaleMax / max_min;
    for (int j = 0; j < kSubBlocks; ++j)
      b.scales[j] = static_cast<uint8_t>(b.scales[j] | (nearest_int(iscale * mins[j]) << 4));
    b.dmin = fp32_to_fp16(max_min / kScaleMax);
  } else {
    b.dmin = fp32_to_fp16(0.f);
  }
  requantize_q2_k(x, b, L);
  pack_2bit(L, b.qs);
}

void quantize_q2_k_weighted(const float* x, const float* importance, BlockQ2_K& b) {
  uint8_t L[kQK_K], Ls[kSubBlocks], Lm[kSubBlocks];
  float weight[kSub], mins[kSubBlocks], scales[kSubBlocks], sw[kSubBlocks];
  const float sigma2 = super_block_sum_squares(x) / kQK_K;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* qw = importance + kSub * j;
    sw[j] = 0;
    for (int l = 0; l < kSub; ++l) {
      weight[l] = qw[l] * std::sqrt(sigma2 + x[kSub * j + l] * x[kSub * j + l]);
      sw[j] += weight[l];
    }
    scales[j] = fit_scale_and_min(kSub, 3, x + kSub * j, weight, L + kSub * j, &mins[j],
                                  ScaleMinSearch{-0.9f, 0.05f, 36, false});
  }
  b.d = fp32_to_fp16(fit_positive_scale(kSubBlocks, 15, scales, Ls, sw));
  b.dmin = fp32_to_fp16(fit_positive_scale(kSubBlocks, 15, mins, Lm, sw));
  for (int j = 0; j < kSubBlocks; ++j) b.scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
  requantize_q2_k(x, b, L);
  pack_2bit(L, b.qs);
}

// --- Q3_K -------------------------------------------------------------------------------

// Stores the 6-bit unsigned scale codes (0..63) in the 12-byte layout read by unpack_scale_q3_k.
void pack_scales_q3_k(const int* codes, uint8_t* packed) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < kSubBlocks; ++j) {
    const int code = codes[j];
    if (j < 8) {
      packed[j] = static_cast<uint8_t>(code & 0xF);
    } else {
      packed[j - 8] = static_cast<uint8_t>(packed[j - 8] | ((code & 0xF) << 4));
    }
    packed[j % 4 + 8] = static_cast<uint8_t>(packed[j % 4 + 8] | ((code >> 4) << (2 * (j / 4))));
  }
}

// Final levels (stored +4, so 0..7) from the fp16 scale; zero-scale sub-blocks keep the search's.
void requantize_q3_k(const float* x, const BlockQ3_K& b, int8_t* L) {
  const float d_all = fp16_to_fp32(b.d);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float d = d_all * static_cast<float>(unpack_scale_q3_k(j, b.scales));
    if (d == 0) continue;
    for (int ii = 0; ii < kSub; ++ii)
      L[kSub * j + ii] = static_cast<int8_t>(std::clamp(nearest_int(x[kSub * j + ii] / d), -4, 3) + 4);
  }
}

// High bit of element j into bit j/32 of hmask[j%32]; low two bits as Q2_K.
void pack_q3_k_levels(int8_t* L, BlockQ3_K& b) {
  std::memset(b.hmask, 0, sizeof b.hmask);
  for (int j = 0; j < kQK_K; ++j) {
    if (L[j] > 3) {
      b.hmask[j % 32] = static_cast<uint8_t>(b.hmask[j % 32] | (1u << (j / 32)));
      L[j] = static_cast<int8_t>(L[j] - 4);
    }
  }
  uint8_t low[kQK_K];
  for (int j = 0; j < kQK_K; ++j) low[j] = static_cast<uint8_t>(L[j]);
  pack_2bit(low, b.qs);
}

void quantize_q3_k_ref(const float* x, BlockQ3_K& b) {
  int8_t L[kQK_K];
  float scales[kSubBlocks];
  float max_scale = 0, amax = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    scales[j] = fit_symmetric_scale_iterative(kSub, 4, x + kSub * j, L + kSub * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  int codes[kSubBlocks] = {};
  if (max_scale != 0) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < kSubBlocks; ++j) {
      // ggml narrows to int8_t before clamping
      const int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
      codes[j] = std::clamp<int>(l, -32, 31) + 32;
    }
    pack_scales_q3_k(codes, b.scales);
    b.d = fp32_to_fp16(1 / iscale);
  } else {
    std::memset(b.scales, 0, sizeof b.scales);
    b.d = fp32_to_fp16(0.f);
  }
  requantize_q3_k(x, b, L);
  pack_q3_k_levels(L, b);
}

void quantize_q3_k_weighted(const float* x, const float* importance, BlockQ3_K& b) {
  int8_t L[kQK_K], Ls[kSubBlocks];
  float scales[kSubBlocks], weight[kSub], sw[kSubBlocks];
  const float sigma2 = 2 * super_block_sum_squares(x) / kQK_K;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* qw = importance + kSub * j;
    for (int l = 0; l < kSub; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[kSub * j + l] * x[kSub * j + l]);
    float sumw = 0;
    for (int l = 0; l < kSub; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = fit_symmetric_scale(kSub, 4, x + kSub * j, L + kSub * j, weight);
  }
  const float d_block = fit_symmetric_scale(kSubBlocks, 32, scales, Ls, sw);
  int codes[kSubBlocks];
  for (int j = 0; j < kSubBlocks; ++j) codes[j] = Ls[j];
  pack_scales_q3_k(codes, b.scales);
  b.d = fp32_to_fp16(d_block);
  requantize_q3_k(x, b, L);
  pack_q3_k_levels(L, b);
}

}  // namespace

void dequantize_q2_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const auto b = load_block<BlockQ2_K>(src + i * sizeof(BlockQ2_K));
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    // Element 128*h + 32*k + m sits in bits 2k of qs[32*h + m] and uses scale 8*h + 2*k + m/16.
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int m = 0; m < 32; ++m) {
          const uint8_t sc = b.scales[8 * h + 2 * k + m / 16];
          const float dl = d * static_cast<float>(sc & 0xF), ml = dmin * static_cast<float>(sc >> 4);
          const int q = (b.qs[32 * h + m] >> (2 * k)) & 3;
          *dst++ = dl * static_cast<float>(q) - ml;
        }
      }
    }
  }
}

void dequantize_q3_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const auto b = load_block<BlockQ3_K>(src + i * sizeof(BlockQ3_K));
    const float d_all = fp16_to_fp32(b.d);
    for (int h = 0; h < 2; ++h) {
      for (int k = 0; k < 4; ++k) {
        for (int m = 0; m < 32; ++m) {
          const float dl = d_all * static_cast<float>(unpack_scale_q3_k(8 * h + 2 * k + m / 16, b.scales));
          const int low = (b.qs[32 * h + m] >> (2 * k)) & 3;
          const bool high = (b.hmask[m] >> (4 * h + k)) & 1;
          *dst++ = dl * static_cast<float>(low - (high ? 0 : 4));
        }
      }
    }
  }
}

void quantize_row_q2_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  for (int64_t i = 0; i < row_len / kQK_K; ++i) {
    BlockQ2_K b{};
    if (importance) {
      quantize_q2_k_weighted(x + i * kQK_K, importance + i * kQK_K, b);
    } else {
      quantize_q2_k_ref(x + i * kQK_K, b);
    }
    store_block(b, dst + i * sizeof(BlockQ2_K));
  }
}

void quantize_row_q3_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  for (int64_t i = 0; i < row_len / kQK_K; ++i) {
    BlockQ3_K b{};
    if (importance) {
      quantize_q3_k_weighted(x + i * kQK_K, importance + i * kQK_K, b);
    } else {
      quantize_q3_k_ref(x + i * kQK_K, b);
    }
    store_block(b, dst + i * sizeof(BlockQ3_K));
  }
}

}  // namespace edgellm::quant::detail
