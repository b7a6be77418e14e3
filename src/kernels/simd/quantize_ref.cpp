#include "kernels/simd/quantize_ref.h"

#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/simd/formats.h"

namespace edgellm::kernels::detail {
namespace {

// Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int).
int nearest_int(float v) {
  float shifted = v + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

}  // namespace

void quantize_q8_0_ref(const float* x, int64_t n, void* out) {
  const int64_t nb = n / 32;
  auto* blocks = static_cast<blk::BlockQ8_0*>(out);
  auto* sums = reinterpret_cast<int16_t*>(static_cast<uint8_t*>(out) + nb * 34);
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + 32 * i;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(v[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blk::BlockQ8_0 b;
    b.d = fp32_to_fp16(d);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      b.qs[j] = static_cast<int8_t>(std::roundf(v[j] * id));
      sum += b.qs[j];
    }
    std::memcpy(&blocks[i], &b, sizeof b);
    const auto s16 = static_cast<int16_t>(sum);
    std::memcpy(&sums[i], &s16, 2);
  }
}

void quantize_q8_k_ref(const float* x, int64_t n, void* out) {
  const int64_t nb = n / 256;
  auto* blocks = static_cast<blk::BlockQ8_K*>(out);
  for (int64_t i = 0; i < nb; ++i) {
    const float* v = x + 256 * i;
    blk::BlockQ8_K b{};
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; ++j) {
      const float a = std::fabs(v[j]);
      if (a > amax) {
        amax = a;
        max = v[j];
      }
    }
    if (amax != 0.0f) {
      const float iscale = -127.0f / max;
      for (int j = 0; j < 256; ++j) {
        const int q = nearest_int(iscale * v[j]);
        b.qs[j] = static_cast<int8_t>(q < 127 ? q : 127);
      }
      for (int k = 0; k < 16; ++k) {
        int s = 0;
        for (int l = 0; l < 16; ++l) s += b.qs[16 * k + l];
        b.bsums[k] = static_cast<int16_t>(s);
      }
      b.d = 1.0f / iscale;
    }
    std::memcpy(&blocks[i], &b, sizeof b);
  }
}

}  // namespace edgellm::kernels::detail
