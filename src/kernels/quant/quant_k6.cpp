// Q6_K (sixteen 16-element sub-blocks with int8 scales) and Q8_K (the 8-bit activation format
// of the K dot products). Q6_K follows ggml's quantize_row_q6_K_ref without importance weights
// and quantize_row_q6_K_impl with them (ggml's quantize_q6_K split); Q8_K follows
// quantize_row_q8_K_ref (ggml has no weighted Q8_K).
#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "kernels/quant/quant_blocks.h"
#include "kernels/quant/quant_kernels.h"
#include "kernels/quant/quant_search.h"

namespace edgellm::quant::detail {
namespace {

constexpr int kSub = 16;
constexpr int kSubBlocks = kQK_K / kSub;

// A super-block whose largest sub-block scale is below this is stored as zeros (ggml:
// GROUP_MAX_EPS).
constexpr float kGroupMaxEps = 1e-15f;

void quantize_q6_k_block(const float* x, const float* importance, BlockQ6_K& b) {
  int8_t L[kQK_K];
  float scales[kSubBlocks];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < kSubBlocks; ++ib) {
    // ggml's weighted path passes the raw importance as the weights; the plain one uses x^2.
    const float* weights = importance ? importance + kSub * ib : nullptr;
    scales[ib] = fit_symmetric_scale(kSub, 32, x + kSub * ib, L + kSub * ib, weights);
    if (std::fabs(scales[ib]) > max_abs_scale) {
      max_abs_scale = std::fabs(scales[ib]);
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    b = BlockQ6_K{};
    return;
  }
  const float iscale = -128.f / max_scale;
  b.d = fp32_to_fp16(1 / iscale);
  for (int ib = 0; ib < kSubBlocks; ++ib)
    b.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  const float d_all = fp16_to_fp32(b.d);
  for (int j = 0; j < kSubBlocks; ++j) {
    const float d = d_all * static_cast<float>(b.scales[j]);
    if (d == 0) continue;  // keeps the levels of the search
    for (int ii = 0; ii < kSub; ++ii)
      L[kSub * j + ii] = static_cast<int8_t>(std::clamp(nearest_int(x[kSub * j + ii] / d), -32, 31) + 32);
  }
  // Per 128 elements: ql[l] / ql[l+32] hold the low nibbles of l, l+32 (low half of the byte)
  // and l+64, l+96 (high half); qh[l] the top two bits of l, l+32, l+64, l+96.
  for (int h = 0; h < 2; ++h) {
    const int8_t* Lh = L + 128 * h;
    uint8_t* ql = b.ql + 64 * h;
    uint8_t* qh = b.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                   ((Lh[l + 96] >> 4) << 6));
    }
  }
}

}  // namespace

void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const auto b = load_block<BlockQ6_K>(src + i * sizeof(BlockQ6_K));
    const float d = fp16_to_fp32(b.d);
    for (int h = 0; h < 2; ++h, dst += 128) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      const int8_t* sc = b.scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        // (d * scale) * q, in this order, as ggml rounds it
        dst[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        dst[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        dst[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        dst[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i) {
    const auto b = load_block<BlockQ8_K>(src + i * sizeof(BlockQ8_K));
    for (int j = 0; j < kQK_K; ++j) *dst++ = b.d * static_cast<float>(b.qs[j]);
  }
}

void quantize_row_q6_k(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  for (int64_t i = 0; i < row_len / kQK_K; ++i) {
    BlockQ6_K b{};
    quantize_q6_k_block(x + i * kQK_K, importance ? importance + i * kQK_K : nullptr, b);
    store_block(b, dst + i * sizeof(BlockQ6_K));
  }
}

void quantize_row_q8_k(const float* x, uint8_t* dst, int64_t row_len, const float* /*importance*/) {
  for (int64_t i = 0; i < row_len / kQK_K; ++i) {
    const float* xs = x + i * kQK_K;
    BlockQ8_K b{};
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(xs[j]) > amax) {
        amax = std::fabs(xs[j]);
        max = xs[j];
      }
    }
    if (amax != 0) {
      // -127 rather than -128 so that no level is -128 (ggml keeps its SIMD paths simple this way)
      const float iscale = -127.f / max;
      for (int j = 0; j < kQK_K; ++j) b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * xs[j])));
      for (int j = 0; j < kSubBlocks; ++j) {
        int sum = 0;
        for (int ii = 0; ii < kSub; ++ii) sum += b.qs[kSub * j + ii];
        b.bsums[j] = static_cast<int16_t>(sum);
      }
      b.d = 1 / iscale;
    }
    store_block(b, dst + i * sizeof(BlockQ8_K));
  }
}

}  // namespace edgellm::quant::detail
