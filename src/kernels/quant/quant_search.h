// Rounding primitives and the scale searches shared by the quantizers. Each one reproduces a
// helper of ggml's ggml-quants.c operation for operation (same float expression order, no FMA
// contraction: see src/kernels/CMakeLists.txt), because a different rounding anywhere changes
// the bytes of the file.
#pragma once

#include <bit>
#include <cstdint>

namespace edgellm::quant::detail {

// Round to nearest, ties to even, by adding 1.5*2^23 so the FPU rounds the fraction away
// (ggml's nearest_int). Exact for |x| <= 2^22 - 1; larger inputs give meaningless but
// well-defined values, as in ggml.
inline int nearest_int(float x) {
  const float shifted = x + 12582912.f;
  const int32_t bits = std::bit_cast<int32_t>(shifted);
  return (bits & 0x007fffff) - 0x00400000;
}

// C's float -> int8_t / uint8_t conversion as x86 compilers emit it: cvttss2si to int32 (NaN and
// out-of-range give INT32_MIN), then keep the low byte. ggml's legacy _ref quantizers rely on
// this when a scale underflows and 1/d becomes inf; mimicking it keeps those bytes equal
// without undefined behaviour.
inline int32_t truncate_to_int32_like_x86(float x) {
  if (!(x > -2147483648.f && x < 2147483648.f)) return INT32_MIN;
  return static_cast<int32_t>(x);
}
inline int8_t float_to_int8_like_c(float x) { return static_cast<int8_t>(truncate_to_int32_like_x86(x)); }
inline uint8_t float_to_uint8_like_c(float x) {
  return static_cast<uint8_t>(truncate_to_int32_like_x86(x));
}

// Index of the codebook entry nearest to x in the sorted table `values` (n a power of two);
// exact ties go to the larger entry. ggml: best_index_int8.
int nearest_codebook_index(int n, const int8_t* values, float x);

// Symmetric scale for levels -nmax..nmax-1 minimising sum w*(x - scale*l)^2, trying 19 inverse
// scales around nmax/max. weights == nullptr means w = x^2. L receives l + nmax.
// ggml: make_qx_quants(n, nmax, x, L, rmse_type = 1, weights).
float fit_symmetric_scale(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Q3_K's symmetric fit with w = x^2: start from nmax/max, then up to 5 passes of moving single
// elements to the level that improves the weighted fit. L receives l + nmax.
// ggml: make_q3_quants(n, nmax, x, L, do_rmse = true).
float fit_symmetric_scale_iterative(int n, int nmax, const float* x, int8_t* L);

// Parameters of the asymmetric (scale + min) grid search.
struct ScaleMinSearch {
  float rmin;    // first trial inverse scale is (rmin + nmax) / (max - min)
  float rdelta;  // step between trials
  int nstep;     // trials rdelta*0..nstep
  bool use_mad;  // minimise weighted |err| instead of weighted err^2
};

// Asymmetric fit x ~ scale*l - min_out with l in 0..nmax and min_out >= 0, by least squares at
// each trial rounding. weights == nullptr means w = x^2. Returns scale; *min_out gets -min.
// ggml: make_qkx2_quants / make_qkx3_quants (identical for finite inputs; we keep qkx3's guard
// against an out-of-range trial value).
float fit_scale_and_min(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                        float* min_out, const ScaleMinSearch& search);

// Non-negative scale for levels 0..nmax of non-negative x (used to quantize the sub-block
// scales and mins of the K formats with imatrix). ggml: make_qp_quants.
float fit_positive_scale(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace edgellm::quant::detail
