// The scalar level: the reference every SIMD level is tested against, and the fallback. Each
// dot product follows the formats' definitions directly: exact integer sums per (sub-)block,
// then one f32 multiply-add per block in column order.
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/ops.h"
#include "kernels/simd/driver.h"
#include "kernels/simd/formats.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/quantize_ref.h"

namespace edgellm::kernels::detail {
namespace {

using namespace blk;

float h2f(uint16_t h) { return fp16_to_fp32(h); }

// Rows may sit at any byte address (GGUF data is only 32-byte aligned as a whole, and row
// strides need not keep the block structs' 2/4-byte alignment): copy each block out.
template <class Block>
Block block_at(const uint8_t* p, int64_t i) {
  Block b;
  std::memcpy(&b, p + i * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
  return b;
}

// --- legacy 32-element blocks against Q8_0 activations --------------------------------------

// Element j of a 4-bit block: low nibble of qs[j] for j < 16, high nibble of qs[j-16] above.
inline int nibble(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4); }
inline int q5_high(uint32_t qh, int j) { return static_cast<int>((qh >> j) & 1u) << 4; }

struct Q4_0 {
  using Block = BlockQ4_0;
  static float block_dot(const Block& b, const BlockQ8_0& x, int) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += (nibble(b.qs, j) - 8) * x.qs[j];
    return h2f(b.d) * h2f(x.d) * static_cast<float>(sum);
  }
};
struct Q4_1 {
  using Block = BlockQ4_1;
  static float block_dot(const Block& b, const BlockQ8_0& x, int xsum) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += nibble(b.qs, j) * x.qs[j];
    const float dx = h2f(x.d);
    return h2f(b.d) * dx * static_cast<float>(sum) + h2f(b.m) * (dx * static_cast<float>(xsum));
  }
};
struct Q5_0 {
  using Block = BlockQ5_0;
  static float block_dot(const Block& b, const BlockQ8_0& x, int) {
    const uint32_t qh = load_u32(b.qh);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += ((nibble(b.qs, j) | q5_high(qh, j)) - 16) * x.qs[j];
    return h2f(b.d) * h2f(x.d) * static_cast<float>(sum);
  }
};
struct Q5_1 {
  using Block = BlockQ5_1;
  static float block_dot(const Block& b, const BlockQ8_0& x, int xsum) {
    const uint32_t qh = load_u32(b.qh);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += (nibble(b.qs, j) | q5_high(qh, j)) * x.qs[j];
    const float dx = h2f(x.d);
    return h2f(b.d) * dx * static_cast<float>(sum) + h2f(b.m) * (dx * static_cast<float>(xsum));
  }
};
struct Q8_0 {
  using Block = BlockQ8_0;
  static float block_dot(const Block& b, const BlockQ8_0& x, int) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += b.qs[j] * x.qs[j];
    return h2f(b.d) * h2f(x.d) * static_cast<float>(sum);
  }
};
struct Iq4Nl {
  using Block = BlockIq4Nl;
  static float block_dot(const Block& b, const BlockQ8_0& x, int) {
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += kIq4NlValues[nibble(b.qs, j)] * x.qs[j];
    return h2f(b.d) * h2f(x.d) * static_cast<float>(sum);
  }
};

template <class F>
float row_dot_q8_0(const uint8_t* w, const uint8_t* xq, int64_t nb) {
  const uint8_t* sum_bytes = xq + nb * 34;
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i)
  {
    int16_t sum;
    std::memcpy(&sum, sum_bytes + 2 * i, 2);
    acc += F::block_dot(block_at<typename F::Block>(w, i), block_at<BlockQ8_0>(xq, i), sum);
  }
  return acc;
}

// --- K-quants against Q8_K activations -------------------------------------------------------

float superblock_q4_k(const BlockQ4_K& b, const BlockQ8_K& x) {
  uint8_t sc[8], mn[8];
  unpack_k4_scales(b.scales, sc, mn);
  int sum = 0, mins = 0;
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    int s = 0;
    for (int l = 0; l < 32; ++l) s += ((q[l] >> shift) & 15) * x.qs[32 * j + l];
    sum += sc[j] * s;
    mins += mn[j] * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
  }
  return h2f(b.d) * x.d * static_cast<float>(sum) - h2f(b.dmin) * x.d * static_cast<float>(mins);
}

float superblock_q5_k(const BlockQ5_K& b, const BlockQ8_K& x) {
  uint8_t sc[8], mn[8];
  unpack_k4_scales(b.scales, sc, mn);
  int sum = 0, mins = 0;
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    int s = 0;
    for (int l = 0; l < 32; ++l) {
      const int high = ((b.qh[l] >> j) & 1) << 4;
      s += (((q[l] >> shift) & 15) | high) * x.qs[32 * j + l];
    }
    sum += sc[j] * s;
    mins += mn[j] * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
  }
  return h2f(b.d) * x.d * static_cast<float>(sum) - h2f(b.dmin) * x.d * static_cast<float>(mins);
}

float superblock_q6_k(const BlockQ6_K& b, const BlockQ8_K& x) {
  int sum = 0;
  for (int k = 0; k < 16; ++k) {  // sub-block of 16: elements 16k .. 16k+15
    int s = 0;
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * k + l;      // element index
      const int half = e / 128;      // which 128 half
      const int part = (e % 128) / 32;
      const int i = e % 32;          // position inside the 32-run
      const uint8_t low = b.ql[64 * half + 32 * (part & 1) + i];
      const int lo4 = part < 2 ? (low & 15) : (low >> 4);
      const int hi2 = (b.qh[32 * half + i] >> (2 * part)) & 3;
      s += ((lo4 | (hi2 << 4)) - 32) * x.qs[e];
    }
    sum += b.scales[k] * s;
  }
  return h2f(b.d) * x.d * static_cast<float>(sum);
}

float superblock_q3_k(const BlockQ3_K& b, const BlockQ8_K& x) {
  int8_t sc[16];
  unpack_q3k_scales(b.scales, sc);
  int sum = 0;
  for (int k = 0; k < 16; ++k) {
    const int half = k / 8, j = (k % 8) / 2, second = k % 2;
    int s = 0;
    for (int l = 0; l < 16; ++l) {
      const int i = 16 * second + l;  // position inside the 32-run
      const int q2 = (b.qs[32 * half + i] >> (2 * j)) & 3;
      const int high = (b.hmask[i] >> (4 * half + j)) & 1;
      s += (q2 - (high ? 0 : 4)) * x.qs[16 * k + l];
    }
    sum += sc[k] * s;
  }
  return h2f(b.d) * x.d * static_cast<float>(sum);
}

float superblock_q2_k(const BlockQ2_K& b, const BlockQ8_K& x) {
  int sum = 0, mins = 0;
  for (int k = 0; k < 16; ++k) {
    const int half = k / 8, j = (k % 8) / 2, second = k % 2;
    int s = 0;
    for (int l = 0; l < 16; ++l) {
      const int q2 = (b.qs[32 * half + 16 * second + l] >> (2 * j)) & 3;
      s += q2 * x.qs[16 * k + l];
    }
    sum += (b.scales[k] & 15) * s;
    mins += (b.scales[k] >> 4) * x.bsums[k];
  }
  return h2f(b.d) * x.d * static_cast<float>(sum) - h2f(b.dmin) * x.d * static_cast<float>(mins);
}

template <class Block, float (*Super)(const Block&, const BlockQ8_K&)>
float row_dot_q8_k(const uint8_t* w, const uint8_t* xq, int64_t nb) {
  float acc = 0.0f;
  for (int64_t i = 0; i < nb; ++i) acc += Super(block_at<Block>(w, i), block_at<BlockQ8_K>(xq, i));
  return acc;
}

// --- float weights against f32 activations ---------------------------------------------------

float load_f32(const uint8_t* p, int64_t i) {
  float v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}
float load_f16(const uint8_t* p, int64_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return fp16_to_fp32(v);
}
float load_bf16(const uint8_t* p, int64_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, 2);
  return bf16_to_fp32(v);
}

template <float (*Load)(const uint8_t*, int64_t)>
float row_dot_float(const uint8_t* w, const uint8_t* xq, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += Load(w, i) * load_f32(xq, i);
  return acc;
}

// --- tiles: the scalar level simply loops over rows and tokens ------------------------------

template <int Block, float (*RowDot)(const uint8_t*, const uint8_t*, int64_t)>
struct ScalarKernel {
  static constexpr int kBlock = Block;
  static constexpr int kVecRows = 1, kTileRows = 1, kTileTokens = 1;
  static constexpr bool kBatchInvariant = true;  // one row dot per (row, token)
  template <int R, int T>
  static void tile(const uint8_t* w, size_t ws, const uint8_t* x, size_t xs, int64_t nb,
                   float* y, size_t ys) {
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) y[t * ys + r] = RowDot(w + r * ws, x + t * xs, nb);
  }
};

uint64_t scalar_int8_probe(int64_t iters) {
  // A dependency-free int32 multiply-add chain per lane; the compiler may vectorise it.
  int32_t acc[16] = {};
  int8_t a[16], b[16];
  for (int i = 0; i < 16; ++i) {
    a[i] = static_cast<int8_t>(i - 8);
    b[i] = static_cast<int8_t>(3 - i);
  }
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) {
      acc[i] += a[i] * b[i];
      b[i] = static_cast<int8_t>(b[i] ^ static_cast<int8_t>(acc[i]));
    }
  volatile int32_t sink = 0;
  for (int i = 0; i < 16; ++i) sink = sink + acc[i];
  return static_cast<uint64_t>(iters) * 16 * 2;
}

// The read-bandwidth probe's loop (kernels.h): 64-bit words, eight independent accumulators.
uint64_t scalar_read_probe(const uint8_t* p, size_t bytes, size_t l2_ahead) {
  uint64_t a[8] = {};
  for (size_t i = 0; i < bytes; i += 64) {
    if (l2_ahead != 0) __builtin_prefetch(p + i + l2_ahead, 0, 2);
    for (int k = 0; k < 8; ++k) {
      uint64_t word;
      std::memcpy(&word, p + i + 8 * k, 8);
      a[k] += word;
    }
  }
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

}  // namespace

KernelSet make_scalar_set() {
  KernelSet ks;
  ks.isa = Isa::Scalar;
  auto set = [&ks](TensorType t, FormatKernels k) { ks.formats[format_index(t)] = k; };
  set(TensorType::F32, format_kernels<ScalarKernel<1, row_dot_float<load_f32>>>());
  set(TensorType::F16, format_kernels<ScalarKernel<1, row_dot_float<load_f16>>>());
  set(TensorType::BF16, format_kernels<ScalarKernel<1, row_dot_float<load_bf16>>>());
  set(TensorType::Q4_0, format_kernels<ScalarKernel<32, row_dot_q8_0<Q4_0>>>());
  set(TensorType::Q4_1, format_kernels<ScalarKernel<32, row_dot_q8_0<Q4_1>>>());
  set(TensorType::Q5_0, format_kernels<ScalarKernel<32, row_dot_q8_0<Q5_0>>>());
  set(TensorType::Q5_1, format_kernels<ScalarKernel<32, row_dot_q8_0<Q5_1>>>());
  set(TensorType::Q8_0, format_kernels<ScalarKernel<32, row_dot_q8_0<Q8_0>>>());
  set(TensorType::IQ4_NL, format_kernels<ScalarKernel<32, row_dot_q8_0<Iq4Nl>>>());
  set(TensorType::Q2_K, format_kernels<ScalarKernel<256, row_dot_q8_k<BlockQ2_K, superblock_q2_k>>>());
  set(TensorType::Q3_K, format_kernels<ScalarKernel<256, row_dot_q8_k<BlockQ3_K, superblock_q3_k>>>());
  set(TensorType::Q4_K, format_kernels<ScalarKernel<256, row_dot_q8_k<BlockQ4_K, superblock_q4_k>>>());
  set(TensorType::Q5_K, format_kernels<ScalarKernel<256, row_dot_q8_k<BlockQ5_K, superblock_q5_k>>>());
  set(TensorType::Q6_K, format_kernels<ScalarKernel<256, row_dot_q8_k<BlockQ6_K, superblock_q6_k>>>());
  ks.quantize_q8_0 = &quantize_q8_0_ref;
  ks.quantize_q8_k = &quantize_q8_k_ref;
  ks.f16_to_f32 = &f16_row_to_f32;
  ks.swiglu = &swiglu_reference;
  ks.int8_peak_probe = &scalar_int8_probe;
  ks.read_probe = &scalar_read_probe;
  return ks;
}

}  // namespace edgellm::kernels::detail
