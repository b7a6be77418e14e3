// Inner loops of AttentionTile (runtime/attention.cpp), internal to the runtime: the portable
// exp, and on x86 the SIMD loops (runtime/attention_x86.cpp, compiled with target attributes
// and chosen at run time through the kernel level, so EDGELLM_ISA=scalar selects the portable
// loops).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace edgellm::runtime::attention_kernels {

// e^x for x <= 0 (scores minus their running maximum), vectorizable: x = n·ln2 + r with
// |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error < 2e-7, below float
// rounding of the later sums), 2^n built in the exponent bits. Inputs below kExpLowest (where
// e^x is under the smallest normal float, 2^-126) give 0. The SIMD loops evaluate the same
// steps with these constants lane by lane, so their tails can fall back on exp_nonpositive.
inline constexpr float kExpLowest = -87.0f;
inline constexpr float kExpLog2e = 1.44269504088896341f;
inline constexpr float kExpLn2Hi = 0.693145751953125f;  // ln 2 split so n·kExpLn2Hi is exact
inline constexpr float kExpLn2Lo = 1.428606765330187e-06f;
inline constexpr float kExpRound = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
// Taylor coefficients of e^r, highest degree first (Horner order).
inline constexpr float kExpPoly[7] = {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};

inline void exp_nonpositive(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] < kExpLowest ? kExpLowest : x[i];
    const float shifted = v * kExpLog2e + kExpRound;
    const float k = shifted - kExpRound;
    const float r = (v - k * kExpLn2Hi) - k * kExpLn2Lo;
    float p = kExpPoly[0];
    for (int c = 1; c < 7; ++c) p = p * r + kExpPoly[c];
    const int32_t e = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kExpRound);
    const float scale = std::bit_cast<float>(static_cast<uint32_t>(e + 127) << 23);
    x[i] = x[i] < kExpLowest ? 0.0f : p * scale;
  }
}

#if defined(__x86_64__)
#define EDGELLM_ATTENTION_X86 1

// AVX2 + FMA + F16C, one query row at a time (the Avx2 level); K/V rows (F16 or F32) are read
// in place at base + j * stride bytes.
//   scores_avx2: s[j] = scale · q·k_j for j < n (d = head_dim_k);
//   accumulate_avx2: acc[0..d) += Σ_j w[j] v_j;
//   exp_sum_avx2: s[j] = e^(s[j] - max), returns Σ_j s[j].
void scores_avx2(const float* q, const uint8_t* k, size_t stride, int64_t n, int64_t d, float scale, float* s,
                 bool f16);
void accumulate_avx2(float* acc, const float* w, const uint8_t* v, size_t stride, int64_t n, int64_t d, bool f16);
float max_avx2(const float* s, int64_t n);
float exp_sum_avx2(float* s, int64_t n, float max);

// What the AVX-512 block step reads and updates of a tile (AttentionTile's buffers).
struct TileState {
  const float* q;  // row i at q + i * q_stride, head_dim_k floats
  size_t q_stride;
  int64_t n_rows;
  const int64_t* visible;  // row i attends to positions [0, visible[i])
  int64_t dk, dv;
  float scale;
  float* max;    // per row: running maximum score
  float* denom;  // per row: running Σ e^(score - max)
  float* acc;    // row i at acc + i * dv: running Σ e^(score - max) · v
  float* scores;           // scratch: n_rows × AttentionTile::kBlock floats
  float* keys_t;           // scratch: head_dim_k × kKeyPanel floats (keys transposed)
  int64_t* active;         // scratch: n_rows
};

// Keys transposed per panel for the AVX-512 score loops (lanes = positions).
constexpr int64_t kKeyPanel = 32;

// AVX-512 (Avx512 / Avx512Vnni levels): folds positions [pos_begin, pos_begin + n), n <= kBlock,
// into every row of the tile, several rows sharing each converted K and V vector. A row's
// arithmetic depends only on its own query, visible count and the positions, never on the
// other rows of the tile.
void add_block_avx512(const TileState& t, const uint8_t* k, size_t ks, const uint8_t* v, size_t vs, bool f16,
                      int64_t pos_begin, int64_t n);
#endif

}  // namespace edgellm::runtime::attention_kernels
