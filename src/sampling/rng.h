// The sampler's random number generator: xoshiro256** (Blackman & Vigna, 2018), seeded by
// expanding a 64-bit seed with splitmix64 as its authors recommend. Chosen over std::mt19937_64
// because its output sequence is fixed by the algorithm alone (std:: distributions are not
// portable across standard libraries), its state is 32 bytes, and it is fast.
#pragma once

#include <cstdint>

namespace edgellm::sampling {

// splitmix64: a bijective 64-bit mixer over a Weyl sequence. Used only to turn one seed into a
// well-spread xoshiro state (consecutive outputs are distinct, so the state is never all zero).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

class Xoshiro256StarStar {
 public:
  explicit Xoshiro256StarStar(uint64_t seed) { reseed(seed); }

  void reseed(uint64_t seed) {
    SplitMix64 mixer(seed);
    for (uint64_t& word : state_) word = mixer.next();
  }

  // For reference vectors: sets the four state words directly (must not all be zero).
  void set_state(uint64_t s0, uint64_t s1, uint64_t s2, uint64_t s3) {
    state_[0] = s0;
    state_[1] = s1;
    state_[2] = s2;
    state_[3] = s3;
  }

  uint64_t next() {
    const uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
    const uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotate_left(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits: every value is an exact multiple of 2^-53, so the
  // result can never round up to 1.0.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotate_left(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t state_[4];
};

}  // namespace edgellm::sampling
