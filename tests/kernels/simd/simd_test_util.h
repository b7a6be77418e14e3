// Shared helpers of the SIMD kernel tests: the levels to test, random weight rows with valid
// scales, and the error bound for comparing two f32 accumulation orders.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "gguf/tensor_type.h"
#include "kernels/panel_layout.h"
#include "kernels/quant/quant.h"
#include "kernels/simd/kernels.h"

namespace edgellm::kernels::test {

// Every level this build and CPU can run (scalar first).
inline std::vector<const KernelSet*> usable_sets() {
  std::vector<const KernelSet*> out;
  for (int i = 0; i < kNumIsas; ++i)
    if (const KernelSet* ks = for_isa(static_cast<Isa>(i))) out.push_back(ks);
  return out;
}

inline const TensorType kAllFormats[] = {
    TensorType::F32,  TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
    TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::IQ4_NL, TensorType::Q2_K,
    TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

// Where a block keeps its fp16 scales, its fp16 mins (the subtracted terms) and its quants.
struct HalfFields {
  std::vector<int> scales;
  std::vector<int> mins;
  int quants_begin = 0, quants_end = 0;  // byte range of the quant bits
};

inline HalfFields half_fields(TensorType t) {
  switch (t) {
    case TensorType::Q4_0: return {{0}, {}, 2, 18};
    case TensorType::IQ4_NL: return {{0}, {}, 2, 18};
    case TensorType::Q5_0: return {{0}, {}, 2, 22};
    case TensorType::Q8_0: return {{0}, {}, 2, 34};
    case TensorType::Q4_1: return {{0}, {2}, 4, 20};
    case TensorType::Q5_1: return {{0}, {2}, 4, 24};
    case TensorType::Q4_K: return {{0}, {2}, 16, 144};
    case TensorType::Q5_K: return {{0}, {2}, 16, 176};
    case TensorType::Q2_K: return {{80}, {82}, 16, 80};
    case TensorType::Q3_K: return {{108}, {}, 0, 96};
    case TensorType::Q6_K: return {{208}, {}, 0, 192};
    default: return {{}, {}, 0, 0};  // float formats
  }
}

inline void put_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// `rows` rows of `cols` weights with random quants and sane random scales. `pattern` 1 makes
// every quant byte 0xff (largest levels), 2 makes them 0, anything else random.
inline std::vector<uint8_t> random_weights(TensorType t, int64_t rows, int64_t cols, std::mt19937& rng,
                                           int pattern = 0) {
  const size_t rb = row_bytes(t, cols);
  std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  if (t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16) {
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = unit(rng) * (pattern == 2 ? 0.0f : 1.0f);
      if (t == TensorType::F32) std::memcpy(&w[4 * i], &v, 4);
      if (t == TensorType::F16) put_half(&w[2 * i], v);
      if (t == TensorType::BF16) {
        const uint16_t b = fp32_to_bf16(v);
        std::memcpy(&w[2 * i], &b, 2);
      }
    }
    return w;
  }
  for (auto& b : w) b = static_cast<uint8_t>(pattern == 1 ? 0xff : pattern == 2 ? 0 : byte(rng));
  const auto& tr = traits(t);
  const HalfFields f = half_fields(t);
  for (size_t blk = 0; blk < w.size() / tr.block_bytes; ++blk) {
    uint8_t* b = &w[blk * tr.block_bytes];
    for (int off : f.scales) put_half(b + off, blk % 17 == 5 ? 0.0f : 0.001f + 0.05f * unit(rng));
    for (int off : f.mins) put_half(b + off, 0.02f * unit(rng));
  }
  return w;
}

// Activations with blocks of assorted magnitude, including all-zero and tiny ones.
inline std::vector<float> random_acts(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t block = i / 32;
    const float scale = block % 7 == 3 ? 0.0f : block % 7 == 5 ? 1e-3f : block % 7 == 6 ? 40.0f : 1.0f;
    x[static_cast<size_t>(i)] = normal(rng) * scale;
  }
  return x;
}

// Dequantized activations of a quantized row (Q8_0 blocks or Q8_K blocks or plain f32).
inline std::vector<float> dequant_acts(TensorType wtype, const uint8_t* xq, int64_t cols) {
  std::vector<float> x(static_cast<size_t>(cols));
  switch (act_type(wtype)) {
    case ActType::F32: std::memcpy(x.data(), xq, x.size() * 4); break;
    case ActType::Q8_0: quant::dequantize_row(TensorType::Q8_0, xq, x.data(), cols); break;
    case ActType::Q8_K: quant::dequantize_row(TensorType::Q8_K, xq, x.data(), cols); break;
  }
  return x;
}

// Dot of one weight row with dequantized activations in double, and the magnitude that bounds
// every partial sum a kernel forms: M = sum_i (|scale part_i| + |min part_i| + |bias_i|) |x_i|,
// where w_i = scale part - min part, and bias_i is the zero point a kernel may sum separately
// (Q4_0's 8, Q6_K's 32, ...: the value of a quant of 0).
struct Reference {
  double value = 0;
  double magnitude = 0;
};

inline Reference reference_dot(TensorType t, const uint8_t* wrow, const std::vector<float>& x) {
  const int64_t cols = static_cast<int64_t>(x.size());
  const size_t rb = row_bytes(t, cols);
  const auto& tr = traits(t);
  const HalfFields f = half_fields(t);
  std::vector<float> w(x.size()), scale_part(x.size()), bias(x.size(), 0.0f);
  quant::dequantize_row(t, wrow, w.data(), cols);
  // The same row with its mins zeroed isolates the scale part; zeroing the quants too leaves
  // the zero point.
  std::vector<uint8_t> no_min(wrow, wrow + rb);
  for (size_t b = 0; b < rb / tr.block_bytes; ++b)
    for (int off : f.mins) put_half(&no_min[b * tr.block_bytes + off], 0.0f);
  quant::dequantize_row(t, no_min.data(), scale_part.data(), cols);
  if (f.quants_end > f.quants_begin) {
    for (size_t b = 0; b < rb / tr.block_bytes; ++b)
      std::memset(&no_min[b * tr.block_bytes + f.quants_begin], 0, f.quants_end - f.quants_begin);
    quant::dequantize_row(t, no_min.data(), bias.data(), cols);
  }
  Reference ref;
  for (size_t i = 0; i < x.size(); ++i) {
    ref.value += static_cast<double>(w[i]) * x[i];
    const double min_part = static_cast<double>(scale_part[i]) - w[i];
    ref.magnitude += (std::fabs(scale_part[i]) + std::fabs(min_part) + std::fabs(bias[i])) * std::fabs(x[i]);
  }
  return ref;
}

// Two f32 summations of the same exact per-block terms in different orders differ by at most
// about 2 * k * 2^-24 * M, k being the longest chain of roundings (blocks along the row, plus
// the lanes, the final horizontal sum and the per-block scale products). Generous factor 2.
inline double tolerance(TensorType t, int64_t cols, double magnitude) {
  const int64_t blocks = cols / traits(t).block_size;
  return 2.0 * (2.0 * static_cast<double>(blocks) + 48.0) * std::ldexp(1.0, -24) * magnitude + 1e-30;
}

// A row-layout matrix of n_rows rows rewritten into the 16-row panel layout.
inline std::vector<uint8_t> packed(TensorType t, const std::vector<uint8_t>& rows, int64_t n_rows, int64_t cols) {
  std::vector<uint8_t> out(rows.size());
  pack_panels(t, rows.data(), cols, 0, n_rows / kPanelRows, out.data());
  return out;
}

// The token counts the panel tests run: 1..20 (every tail of the 4-token groups) and `most`.
inline std::vector<int64_t> panel_token_counts(int64_t most) {
  std::vector<int64_t> counts;
  for (int64_t n = 1; n <= 20; ++n) counts.push_back(n);
  counts.push_back(most);
  return counts;
}

}  // namespace edgellm::kernels::test
