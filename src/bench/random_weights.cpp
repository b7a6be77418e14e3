#include "bench/random_weights.h"

#include <array>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

namespace edgellm::bench {

namespace {

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Where a block keeps its half-precision scales, and the spread of its dequantized values in
// units of the main scale d (so d = sigma / spread). The second field, when present, is a
// "min" (subtracted offset) set so the values centre near zero.
struct BlockLayout {
  TensorType type;
  int d_offset;      // byte offset of the fp16 scale d
  int min_offset;    // byte offset of the fp16 min / dmin, or -1
  float spread;      // ≈ std of the value / d for uniformly random quant bits
  float min_per_d;   // min (or dmin) = min_per_d * d
};

// Spreads: Q4_0 (q-8), q uniform 0..15: std 4.6; Q8_0 int8 uniform: 74; Q5_0 (q-16): 9.2;
// IQ4_NL codebook values: ~60; Q4_1/Q5_1 d·q + m with m = -7.5d / -15.5d centres them.
// K-quants multiply by random 4/6/8-bit sub-block scales as well: Q2_K sc 0..15 · q 0..3 (~12),
// Q3_K (sc-32)·(q-4) (~41), Q4_K sc 0..63 · q 0..15 (~145, dmin ≈ 7.5 d), Q5_K (~290, 15.5 d),
// Q6_K int8 sc · (q-32) (~1370). Only the order of magnitude matters: random models are for
// speed, and RMS norms keep each layer's input at unit scale anyway.
constexpr std::array kLayouts = {
    BlockLayout{TensorType::Q4_0, 0, -1, 4.6f, 0.0f},   BlockLayout{TensorType::Q4_1, 0, 2, 4.6f, -7.5f},
    BlockLayout{TensorType::Q5_0, 0, -1, 9.2f, 0.0f},   BlockLayout{TensorType::Q5_1, 0, 2, 9.2f, -15.5f},
    BlockLayout{TensorType::Q8_0, 0, -1, 74.0f, 0.0f},  BlockLayout{TensorType::IQ4_NL, 0, -1, 60.0f, 0.0f},
    BlockLayout{TensorType::Q2_K, 80, 82, 12.0f, 1.5f}, BlockLayout{TensorType::Q3_K, 108, -1, 41.0f, 0.0f},
    BlockLayout{TensorType::Q4_K, 0, 2, 145.0f, 7.5f},  BlockLayout{TensorType::Q5_K, 0, 2, 290.0f, 15.5f},
    BlockLayout{TensorType::Q6_K, 208, -1, 1370.0f, 0.0f},
};

void put_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, sizeof h);
}

// 256 evenly spaced values in ±sqrt(3)·sigma (std sigma), one picked per random byte.
template <class Encode>
void fill_float_elements(float sigma, size_t elem_bytes, RandomBits& rng, std::span<uint8_t> out, Encode encode) {
  std::array<uint32_t, 256> table{};
  const float half_width = std::sqrt(3.0f) * sigma;
  for (int i = 0; i < 256; ++i) table[static_cast<size_t>(i)] = encode(half_width * ((2.0f * static_cast<float>(i) + 1.0f) / 256.0f - 1.0f));
  const size_t n = out.size() / elem_bytes;
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i % 8 == 0) bits = rng.next();
    const uint32_t v = table[bits & 0xff];
    bits >>= 8;
    std::memcpy(out.data() + i * elem_bytes, &v, elem_bytes);  // little-endian low bytes
  }
}

}  // namespace

RandomBits::RandomBits(uint64_t seed) {
  for (uint64_t& s : s_) {  // splitmix64
    seed += 0x9e3779b97f4a7c15ULL;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    s = z ^ (z >> 31);
  }
}

uint64_t RandomBits::next() {  // xoshiro256**
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

void RandomBits::fill(std::span<uint8_t> out) {
  size_t i = 0;
  for (; i + 8 <= out.size(); i += 8) {
    const uint64_t v = next();
    std::memcpy(out.data() + i, &v, 8);
  }
  if (i < out.size()) {
    const uint64_t v = next();
    std::memcpy(out.data() + i, &v, out.size() - i);
  }
}

void fill_random_weights(TensorType type, float sigma, RandomBits& rng, std::span<uint8_t> out) {
  if (!(sigma > 0.0f) || !std::isfinite(sigma)) fail("random weights: sigma {} must be positive", sigma);
  const TensorTypeTraits& tr = traits(type);
  if (out.size() % tr.block_bytes != 0)
    fail("random weights: {} bytes is not a whole number of {} blocks", out.size(), tr.name);
  switch (type) {
    case TensorType::F32:
      return fill_float_elements(sigma, 4, rng, out, [](float v) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        return u;
      });
    case TensorType::F16:
      return fill_float_elements(sigma, 2, rng, out, [](float v) { return uint32_t{fp32_to_fp16(v)}; });
    case TensorType::BF16:
      return fill_float_elements(sigma, 2, rng, out, [](float v) { return uint32_t{fp32_to_bf16(v)}; });
    default: break;
  }
  const BlockLayout* layout = nullptr;
  for (const BlockLayout& l : kLayouts)
    if (l.type == type) layout = &l;
  if (layout == nullptr) fail("random weights: no block layout known for type {}", tr.name);
  rng.fill(out);
  const float d = sigma / layout->spread;
  const float m = layout->min_per_d * d;
  for (size_t b = 0; b < out.size(); b += tr.block_bytes) {
    put_half(out.data() + b + layout->d_offset, d);
    if (layout->min_offset >= 0) put_half(out.data() + b + layout->min_offset, m);
  }
}

void fill_constant_f32(float value, std::span<uint8_t> out) {
  if (out.size() % 4 != 0) fail("constant f32: {} bytes is not a whole number of floats", out.size());
  for (size_t i = 0; i < out.size(); i += 4) std::memcpy(out.data() + i, &value, 4);
}

}  // namespace edgellm::bench
