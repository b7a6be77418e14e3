// Random tensor data in any GGUF weight format, produced directly as bytes: random quant bits
// with every scale field overwritten by a finite half-precision scale chosen so that the
// dequantized values have roughly the requested standard deviation. Much faster than drawing
// floats and quantizing them (the ~9 GB DeepSeek-V2-Lite shape is written at disk speed), and
// the blocks are valid for every kernel: no NaN/Inf scale can appear.
#pragma once

#include <cstdint>
#include <span>

#include "gguf/tensor_type.h"

namespace edgellm::bench {

// A small, fast generator (splitmix64 seeding, xoshiro256** steps); deterministic per seed.
class RandomBits {
 public:
  explicit RandomBits(uint64_t seed);
  uint64_t next();
  void fill(std::span<uint8_t> out);

 private:
  uint64_t s_[4];
};

// Fills `out` (a whole number of blocks of `type`) with random data of roughly standard
// deviation `sigma` per element. F32/F16/BF16 get values uniform in ±sqrt(3)·sigma.
// Throws edgellm::Error for a type without a known block layout or a partial block.
void fill_random_weights(TensorType type, float sigma, RandomBits& rng, std::span<uint8_t> out);

// Fills F32 data with a constant (norm weights of 1).
void fill_constant_f32(float value, std::span<uint8_t> out);

}  // namespace edgellm::bench
