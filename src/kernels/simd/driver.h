// Row/token loops shared by every ISA: they walk a row range in register tiles and call the
// format kernel K's tile function. K is always a type with internal linkage (defined in an
// unnamed namespace of one ISA's translation unit), so each instantiation stays private to the
// TU that was compiled with that ISA's flags.
//
// K provides:
//   static constexpr int kBlock;            // elements per weight block (1 for F32/F16/BF16)
//   static constexpr size_t kActBlockBytes;  // unused here; documents the activation stride
//   static constexpr int kVecRows;          // rows per matvec tile
//   static constexpr int kTileRows, kTileTokens;  // matmul tile
//   template <int R, int T> static void tile(const uint8_t* w, size_t w_stride,
//                                           const uint8_t* x, size_t x_stride, int64_t nb,
//                                           float* y, size_t y_stride);
//     computes y[t * y_stride + r] for r < R, t < T from rows w + r * w_stride and tokens
//     x + t * x_stride, each nb blocks long.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/simd/kernels.h"

namespace edgellm::kernels::detail {

template <class K>
void matvec_rows(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end,
                 int64_t cols, const void* xq, float* y) {
  const int64_t nb = cols / K::kBlock;
  const auto* x = static_cast<const uint8_t*>(xq);
  int64_t r = row_begin;
  for (; r + K::kVecRows <= row_end; r += K::kVecRows)
    K::template tile<K::kVecRows, 1>(w + r * row_stride, row_stride, x, 0, nb, y + r, 0);
  for (; r < row_end; ++r) K::template tile<1, 1>(w + r * row_stride, row_stride, x, 0, nb, y + r, 0);
}

template <class K>
void matmul_rows(const uint8_t* w, size_t row_stride, int64_t row_begin, int64_t row_end,
                 int64_t cols, const void* xq, size_t xq_stride, int64_t n_tokens, float* y,
                 size_t y_stride) {
  constexpr int R = K::kTileRows;
  constexpr int T = K::kTileTokens;
  const int64_t nb = cols / K::kBlock;
  const auto* x = static_cast<const uint8_t*>(xq);
  int64_t r = row_begin;
  for (; r + R <= row_end; r += R) {
    const uint8_t* wr = w + r * row_stride;
    int64_t t = 0;
    for (; t + T <= n_tokens; t += T)
      K::template tile<R, T>(wr, row_stride, x + t * xq_stride, xq_stride, nb,
                             y + t * y_stride + r, y_stride);
    for (; t < n_tokens; ++t)
      K::template tile<R, 1>(wr, row_stride, x + t * xq_stride, xq_stride, nb,
                             y + t * y_stride + r, y_stride);
  }
  for (; r < row_end; ++r) {
    const uint8_t* wr = w + r * row_stride;
    int64_t t = 0;
    for (; t + T <= n_tokens; t += T)
      K::template tile<1, T>(wr, row_stride, x + t * xq_stride, xq_stride, nb,
                             y + t * y_stride + r, y_stride);
    for (; t < n_tokens; ++t)
      K::template tile<1, 1>(wr, row_stride, x + t * xq_stride, xq_stride, nb,
                             y + t * y_stride + r, y_stride);
  }
}

// K::kBatchInvariant (optional, default false) declares that K's tile<R, T> computes each
// (row, token) with the same operations for every R and T, so these loops are batch-invariant.
template <class K>
constexpr FormatKernels format_kernels() {
  bool invariant = false;
  if constexpr (requires { K::kBatchInvariant; }) invariant = K::kBatchInvariant;
  return FormatKernels{&matvec_rows<K>, &matmul_rows<K>, invariant};
}

}  // namespace edgellm::kernels::detail
