// Q4_K and Q5_K: 256-element super-blocks of eight 32-element sub-blocks, each with a 6-bit
// scale and a 6-bit min. Without importance weights these follow ggml's quantize_row_q4_K_ref /
// quantize_row_q5_K_ref, with weights quantize_row_q4_K_impl / quantize_row_q5_K_impl, which is
// the split ggml's quantize_q4_K / quantize_q5_K (and so llama-quantize) make.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant/quant_blocks.h"
#include "kernels/quant/quant_kernels.h"
#include "kernels/quant/quant_search.h"

namespace edgellm::quant::detail {
namespace {

constexpr int kSub = 32;
constexpr int kSubBlocks = kQK_K / kSub;

// The super-block scales and the 12 packed sub-block scale/min bytes shared by Q4_K and Q5_K.
struct KScales {
  uint16_t d = 0;
  uint16_t dmin = 0;
  uint8_t packed[12] = {};
};

KScales fit_k_scales_ref(const float* x, int nmax, const ScaleMinSearch& search, uint8_t* L) {
  float mins[kSubBlocks], scales[kSubBlocks], weights[kSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xb = x + kSub * j;
    float sum_x2 = 0;
    for (int l = 0; l < kSub; ++l) sum_x2 += xb[l] * xb[l];
    const float av_x = std::sqrt(sum_x2 / kSub);
    for (int l = 0; l < kSub; ++l) weights[l] = av_x + std::fabs(xb[l]);
    scales[j] = fit_scale_and_min(kSub, nmax, xb, weights, L + kSub * j, &mins[j], search);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[kSubBlocks], lm[kSubBlocks];
  for (int j = 0; j < kSubBlocks; ++j) {
    // ggml narrows to uint8_t first, then caps at 63
    ls[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
  }
  KScales k;
  pack_scale_min_k4(ls, lm, k.packed);
  k.d = fp32_to_fp16(max_scale / 63.f);
  k.dmin = fp32_to_fp16(max_min / 63.f);
  return k;
}

// Q5_K caps the scale codes at 63 here and Q4_K does not (they only differ when a sub-block
// scale comes out negative, a degenerate case), as in ggml.
KScales fit_k_scales_weighted(const float* x, const float* importance, int nmax, bool cap_codes, uint8_t* L) {
  float mins[kSubBlocks], scales[kSubBlocks], sw[kSubBlocks], weights[kSub];
  float sum_x2 = 0;
  for (int l = 0; l < kQK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / kQK_K;
  for (int j = 0; j < kSubBlocks; ++j) {
    const float* xb = x + kSub * j;
    const float* qw = importance + kSub * j;
    for (int l = 0; l < kSub; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + xb[l] * xb[l]);
    float sumw = 0;
    for (int l = 0; l < kSub; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = fit_scale_and_min(kSub, nmax, xb, weights, L + kSub * j, &mins[j],
                                  ScaleMinSearch{-0.9f, 0.05f, 36, false});
  }
  uint8_t ls[kSubBlocks], lm[kSubBlocks];
  const float d_block = fit_positive_scale(kSubBlocks, 63, scales, ls, sw);
  const float m_block = fit_positive_scale(kSubBlocks, 63, mins, lm, sw);
  if (cap_codes) {
    for (int j = 0; j < kSubBlocks; ++j) {
      ls[j] = std::min<uint8_t>(63, ls[j]);
      lm[j] = std::min<uint8_t>(63, lm[j]);
    }
  }
  KScales k;
  pack_scale_min_k4(ls, lm, k.packed);
  k.d = fp32_to_fp16(d_block);
  k.dmin = fp32_to_fp16(m_block);
  return k;
}

// Final levels 0..nmax from the stored scales; zero-scale sub-blocks keep the search's levels.
void requantize_k(const float* x, const KScales& k, int nmax, uint8_t* L) {
  const float d_all = fp16_to_fp32(k.d), dmin_all = fp16_to_fp32(k.dmin);
  for (int j = 0; j < kSubBlocks; ++j) {
    const ScaleMin sm = unpack_scale_min_k4(j, k.packed);
    const float d = d_all * static_cast<float>(sm.scale);
    if (d == 0) continue;
    const float dm = dmin_all * static_cast<float>(sm.min);
    for (int ii = 0; ii < kSub; ++ii)
      L[kSub * j + ii] = static_cast<uint8_t>(std::clamp(nearest_int((x[kSub * j + ii] + dm) / d), 0, nmax));
  }
}

KScales quantize_k_levels(const float* x, const float* importance, int nmax, const ScaleMinSearch& ref_search,
                          uint8_t* L) {
  KScales k = importance ? fit_k_scales_weighted(x, importance, nmax, /*cap_codes=*/nmax == 31, L)
                         : fit_k_scales_ref(x, nmax, ref_search, L);
  requantize_k(x, k, nmax, L);
  return k;
}

}  // namespace

void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const auto b = load_block<BlockQ4_K>(src + i * sizeof(BlockQ4_K));
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int p = 0; p < 4; ++p) {  // 64 elements per 32 bytes of qs
      const ScaleMin lo = unpack_scale_min_k4(2 * p, b.scales), hi = unpack_scale_min_k4(2 * p + 1, b.scales);
      const float d1 = d * static_cast<float>(lo.scale), m1 = dmin * static_cast<float>(lo.min);
      const float d2 = d * static_cast<float>(hi.scale), m2 = dmin * static_cast<float>(hi.min);
      const uint8_t* q = b.qs + 32 * p;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const auto b = load_block<BlockQ5_K>(src + i * sizeof(BlockQ5_K));
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int p = 0; p < 4; ++p) {
      const ScaleMin lo = unpack_scale_min_k4(2 * p, b.scales), hi = unpack_scale_min_k4(2 * p + 1, b.scales);
      const float d1 = d * static_cast<float>(lo.scale), m1 = dmin * static_cast<float>(lo.min);
      const float d2 = d * static_cast<float>(hi.scale), m2 = dmin * static_cast<float>(hi.min);
      const uint8_t* q = b.qs + 32 * p;
      for (int l = 0; l < 32; ++l) {
        const int high = (b.qh[l] >> (2 * p)) & 1;
        *dst++ = d1 * static_cast<float>((q[l] & 0xF) + 16 * high) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int high = (b.qh[l] >> (2 * p + 1)) & 1;
        *dst++ = d2 * static_cast<float>((q[l] >> 4) + 16 * high) - m2;
      }
    }
  }
}

void quantize_row_q4_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  for (int64_t i = 0; i < row_len / kQK_K; ++i) {
    const float* xs = x + i * kQK_K;
    uint8_t L[kQK_K];
    const KScales k = quantize_k_levels(xs, importance ? importance + i * kQK_K : nullptr, 15,
                                        ScaleMinSearch{-1.f, 0.1f, 20, false}, L);
    BlockQ4_K b{};
    b.d = k.d;
    b.dmin = k.dmin;
    std::memcpy(b.scales, k.packed, sizeof b.scales);
    for (int p = 0; p < 4; ++p)
      for (int l = 0; l < 32; ++l) b.qs[32 * p + l] = static_cast<uint8_t>(L[64 * p + l] | (L[64 * p + l + 32] << 4));
    store_block(b, dst + i * sizeof(BlockQ4_K));
  }
}

void quantize_row_q5_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  for (int64_t i = 0; i < row_len / kQK_K; ++i) {
    const float* xs = x + i * kQK_K;
    uint8_t L[kQK_K];
    const KScales k = quantize_k_levels(xs, importance ? importance + i * kQK_K : nullptr, 31,
                                        ScaleMinSearch{-0.5f, 0.1f, 15, false}, L);
    BlockQ5_K b{};
    b.d = k.d;
    b.dmin = k.dmin;
    std::memcpy(b.scales, k.packed, sizeof b.scales);
    for (int p = 0; p < 4; ++p) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = L[64 * p + l], hi = L[64 * p + l + 32];
        b.qs[32 * p + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        b.qh[l] = static_cast<uint8_t>(b.qh[l] | ((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
      }
    }
    store_block(b, dst + i * sizeof(BlockQ5_K));
  }
}

}  // namespace edgellm::quant::detail
