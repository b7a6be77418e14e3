// The 32-element "legacy" formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (and Q8_1). Without importance
// weights these follow ggml's quantize_row_*_ref (absmax / min-max scale, truncating casts);
// with weights, Q4/Q5 follow the quantize_row_*_impl searches that llama-quantize uses with an
// imatrix. Q8_0 ignores weights, as ggml's quantize_q8_0 does.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "core/fp16.h"
#include "kernels/quant/quant_blocks.h"
#include "kernels/quant/quant_kernels.h"
#include "kernels/quant/quant_search.h"

namespace edgellm::quant::detail {
namespace {

// The element of largest magnitude, signed (the first one on ties).
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

struct MinMax {
  float min;
  float max;
};
MinMax min_max(const float* x) {
  MinMax r{FLT_MAX, -FLT_MAX};
  for (int j = 0; j < kQK; ++j) {
    if (x[j] < r.min) r.min = x[j];
    if (x[j] > r.max) r.max = x[j];
  }
  return r;
}

// Packs 5-bit levels: low nibbles as Q4_0, bit 4 of element j into bit j of the LE word qh.
void pack_5bit(const uint8_t* levels, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t lo = levels[j], hi = levels[j + kQK / 2];
    qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
    qh |= ((lo & 0x10u) >> 4) << j;
    qh |= ((hi & 0x10u) >> 4) << (j + kQK / 2);
  }
  for (int b = 0; b < 4; ++b) qh_bytes[b] = static_cast<uint8_t>(qh >> (8 * b));
}

uint32_t load_qh(const uint8_t* qh_bytes) {
  return static_cast<uint32_t>(qh_bytes[0]) | (static_cast<uint32_t>(qh_bytes[1]) << 8) |
         (static_cast<uint32_t>(qh_bytes[2]) << 16) | (static_cast<uint32_t>(qh_bytes[3]) << 24);
}

// Per-element weights of the imatrix searches: importance * sqrt(sigma2 + x^2), where sigma2 is
// the mean square of the whole row (ggml: quantize_row_q4_0_impl and friends).
float row_mean_square(const float* x, int64_t row_len) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < row_len; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(row_len);
}
void block_weights(const float* xb, const float* importance, float sigma2, float* weight) {
  for (int j = 0; j < kQK; ++j) weight[j] = importance[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

constexpr ScaleMinSearch kLegacyMinSearch{-0.9f, 0.05f, 36, false};

}  // namespace

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ4_0>(src + i * sizeof(BlockQ4_0));
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
      dst[j + kQK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ4_1>(src + i * sizeof(BlockQ4_1));
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      dst[j + kQK / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ5_0>(src + i * sizeof(BlockQ5_0));
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + kQK / 2] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ5_1>(src + i * sizeof(BlockQ5_1));
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    const uint32_t qh = load_qh(b.qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int lo = (b.qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      dst[j] = static_cast<float>(lo) * d + m;
      dst[j + kQK / 2] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ8_0>(src + i * sizeof(BlockQ8_0));
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void dequantize_q8_1(const uint8_t* src, float* dst, int64_t n_blocks) {
  for (int64_t i = 0; i < n_blocks; ++i, dst += kQK) {
    const auto b = load_block<BlockQ8_1>(src + i * sizeof(BlockQ8_1));
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void quantize_row_q4_0(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  const int64_t n_blocks = row_len / kQK;
  const float sigma2 = importance ? row_mean_square(x, row_len) : 0.f;
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float* xb = x + i * kQK;
    BlockQ4_0 b{};
    if (importance) {
      float weight[kQK];
      int8_t L[kQK];
      block_weights(xb, importance + i * kQK, sigma2, weight);
      b.d = fp32_to_fp16(fit_symmetric_scale(kQK, 8, xb, L, weight));
      for (int j = 0; j < kQK / 2; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    } else {
      const float d = signed_absmax(xb) / -8;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      for (int j = 0; j < kQK / 2; ++j) {
        // ggml: MIN(15, (int8_t)(x*id + 8.5f)), i.e. round half up then clamp
        const auto lo = static_cast<uint8_t>(std::min<int>(15, float_to_int8_like_c(xb[j] * id + 8.5f)));
        const auto hi = static_cast<uint8_t>(std::min<int>(15, float_to_int8_like_c(xb[j + 16] * id + 8.5f)));
        b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
    store_block(b, dst + i * sizeof(BlockQ4_0));
  }
}

void quantize_row_q4_1(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  const int64_t n_blocks = row_len / kQK;
  const float sigma2 = importance ? row_mean_square(x, row_len) : 0.f;
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float* xb = x + i * kQK;
    BlockQ4_1 b{};
    if (importance) {
      float weight[kQK];
      uint8_t L[kQK];
      float min = 0;
      block_weights(xb, importance + i * kQK, sigma2, weight);
      b.d = fp32_to_fp16(fit_scale_and_min(kQK, 15, xb, weight, L, &min, kLegacyMinSearch));
      b.m = fp32_to_fp16(-min);
      for (int j = 0; j < kQK / 2; ++j) b.qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    } else {
      const MinMax r = min_max(xb);
      const float d = (r.max - r.min) / 15;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      b.m = fp32_to_fp16(r.min);
      for (int j = 0; j < kQK / 2; ++j) {
        const auto lo = static_cast<uint8_t>(std::min<int>(15, float_to_int8_like_c((xb[j] - r.min) * id + 0.5f)));
        const auto hi =
            static_cast<uint8_t>(std::min<int>(15, float_to_int8_like_c((xb[j + 16] - r.min) * id + 0.5f)));
        b.qs[j] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
    store_block(b, dst + i * sizeof(BlockQ4_1));
  }
}

void quantize_row_q5_0(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  const int64_t n_blocks = row_len / kQK;
  const float sigma2 = importance ? row_mean_square(x, row_len) : 0.f;
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float* xb = x + i * kQK;
    BlockQ5_0 b{};
    uint8_t levels[kQK];
    if (importance) {
      float weight[kQK];
      int8_t L[kQK];
      block_weights(xb, importance + i * kQK, sigma2, weight);
      b.d = fp32_to_fp16(fit_symmetric_scale(kQK, 16, xb, L, weight));
      for (int j = 0; j < kQK; ++j) levels[j] = static_cast<uint8_t>(L[j]);
    } else {
      const float d = signed_absmax(xb) / -16;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      for (int j = 0; j < kQK; ++j)
        levels[j] = static_cast<uint8_t>(std::min<int>(31, float_to_int8_like_c(xb[j] * id + 16.5f)));
    }
    pack_5bit(levels, b.qs, b.qh);
    store_block(b, dst + i * sizeof(BlockQ5_0));
  }
}

void quantize_row_q5_1(const float* x, uint8_t* dst, int64_t row_len, const float* importance) {
  const int64_t n_blocks = row_len / kQK;
  const float sigma2 = importance ? row_mean_square(x, row_len) : 0.f;
  for (int64_t i = 0; i < n_blocks; ++i) {
    const float* xb = x + i * kQK;
    BlockQ5_1 b{};
    uint8_t levels[kQK];
    if (importance) {
      float weight[kQK];
      float min = 0;
      block_weights(xb, importance + i * kQK, sigma2, weight);
      b.d = fp32_to_fp16(fit_scale_and_min(kQK, 31, xb, weight, levels, &min, kLegacyMinSearch));
      b.m = fp32_to_fp16(-min);
    } else {
      const MinMax r = min_max(xb);
      const float d = (r.max - r.min) / 31;
      const float id = d != 0 ? 1.0f / d : 0.0f;
      b.d = fp32_to_fp16(d);
      b.m = fp32_to_fp16(r.min);
      // ggml casts straight to uint8_t here, without the clamp of Q4_1
      for (int j = 0; j < kQK; ++j) levels[j] = float_to_uint8_like_c((xb[j] - r.min) * id + 0.5f);
    }
    pack_5bit(levels, b.qs, b.qh);
    store_block(b, dst + i * sizeof(BlockQ5_1));
  }
}

namespace {

// Q8_0 / Q8_1 scale: absmax / 127, levels roundf(x / d) (round half away from zero).
float q8_scale(const float* xb) {
  float amax = 0;
  for (int j = 0; j < kQK; ++j) amax = amax > std::fabs(xb[j]) ? amax : std::fabs(xb[j]);
  return amax / 127;
}

}  // namespace

void quantize_row_q8_0(const float* x, uint8_t* dst, int64_t row_len, const float* /*importance*/) {
  for (int64_t i = 0; i < row_len / kQK; ++i) {
    const float* xb = x + i * kQK;
    BlockQ8_0 b{};
    const float d = q8_scale(xb);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b.d = fp32_to_fp16(d);
    for (int j = 0; j < kQK; ++j) b.qs[j] = float_to_int8_like_c(std::round(xb[j] * id));
    store_block(b, dst + i * sizeof(BlockQ8_0));
  }
}

void quantize_row_q8_1(const float* x, uint8_t* dst, int64_t row_len, const float* /*importance*/) {
  for (int64_t i = 0; i < row_len / kQK; ++i) {
    const float* xb = x + i * kQK;
    BlockQ8_1 b{};
    const float d = q8_scale(xb);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    b.d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      b.qs[j] = float_to_int8_like_c(std::round(xb[j] * id));
      sum += b.qs[j];
    }
    b.s = fp32_to_fp16(static_cast<float>(sum) * d);
    store_block(b, dst + i * sizeof(BlockQ8_1));
  }
}

}  // namespace edgellm::quant::detail
