// SIMD kernels for quantized matrix-vector (decode) and matrix-matrix (prefill) products.
//
// Dispatch: one KernelSet per instruction set level (scalar, AVX2, AVX-512, AVX-512 VNNI, NEON,
// NEON dotprod, NEON i8mm). The best level the CPU supports is chosen once, on the first call
// to active(); EDGELLM_ISA=<name> in the environment forces a lower level (asking for a level
// the CPU lacks is an error). Each level lives in its own translation unit compiled with that
// level's flags, so the rest of the binary stays baseline x86-64 / armv8-a.
//
// Data flow of one product y = W x, W being rows x cols in a GGUF weight format:
//   1. quantize_activations(W's type, x, cols, buf): converts the f32 activation row once into
//      the format the weight type's dot product wants (act_type()):
//        - Q8_0-style for Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL weights: n/32 ggml block_q8_0 blocks
//          (fp16 d, 32 x int8), bit-identical to quant::quantize_rows(Q8_0), followed by n/32
//          int16 block sums sum(qs) (what ggml's Q8_1 keeps as d*sum, used by the min terms
//          of Q4_1/Q5_1 and the zero-point correction of the unsigned 4/5-bit formats);
//        - Q8_K for K-quant weights: n/256 ggml block_q8_K (f32 d, 256 x int8, 16 int16 bsums),
//          bit-identical to quant::quantize_rows(Q8_K);
//        - F32 (a plain copy) for F32 / F16 / BF16 weights.
//      act_row_bytes() tells the buffer size; buffers need no particular alignment.
//   2. matvec / matmul over a range of rows of W, reading W in place (GGUF layout, row r at
//      w + r * row_stride). A worker thread takes a row range; rows are independent.
//
// All functions validate their arguments and throw edgellm::Error on bad input (unknown type,
// cols not a multiple of the block size, empty ranges are fine).
//
// Numerics: integer dot products inside a block are exact; results differ between levels only
// by the order of the f32 accumulation (bounded by ~n_blocks * 2^-24 * sum|w||x|).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gguf/tensor_type.h"

namespace edgellm::kernels {

// AvxVnni: AVX2 plus the VEX-encoded 256-bit vpdpbusd / vpdpwssd (AVX-VNNI: Intel Alder Lake and
// later client cores, which lack AVX-512).
enum class Isa : uint8_t { Scalar, Avx2, Avx512, Avx512Vnni, Neon, NeonDotprod, NeonI8mm, AvxVnni };
inline constexpr int kNumIsas = 8;

std::string_view isa_name(Isa isa);  // "scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "neon", ...
std::optional<Isa> isa_from_name(std::string_view name);

// How activations are prepared for a given weight type.
enum class ActType : uint8_t { F32, Q8_0, Q8_K };

// Weight formats with kernels: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL Q2_K Q3_K Q4_K Q5_K
// Q6_K.
bool supports(TensorType weight_type);
ActType act_type(TensorType weight_type);                   // throws for unsupported types
size_t act_row_bytes(TensorType weight_type, int64_t cols);  // throws when cols is misaligned

// y[r] = dot(row r of W, x) for r in [row_begin, row_end). y is indexed by absolute row.
using MatvecFn = void (*)(const uint8_t* w, size_t row_stride, int64_t row_begin,
                          int64_t row_end, int64_t cols, const void* xq, float* y);
// For tokens t in [0, n_tokens): y[t * y_stride + r] = dot(row r, token t's activations at
// xq + t * xq_stride bytes). Processes a register tile of several rows x several tokens per
// weight-block load, so prefill reads each weight block once per tile of tokens.
using MatmulFn = void (*)(const uint8_t* w, size_t row_stride, int64_t row_begin,
                          int64_t row_end, int64_t cols, const void* xq, size_t xq_stride,
                          int64_t n_tokens, float* y, size_t y_stride);
// Converts one f32 row of n values (n a multiple of the block size; 1 for F32).
using QuantizeFn = void (*)(const float* x, int64_t n, void* out);

// Index of a weight format in KernelSet::formats (-1 for unsupported types).
int format_index(TensorType weight_type);
inline constexpr int kNumFormats = 14;

struct FormatKernels {
  MatvecFn matvec = nullptr;
  MatmulFn matmul = nullptr;
  // True when y[t][r] is bit-identical whatever the number of tokens in the call, the token's
  // position in it and the row range (16-row aligned): matvec, every matmul tile shape and
  // any panel path round alike (Q6_K: within each layout, row or panel).
  bool batch_invariant = false;
  // The same products for weights in the 16-row panel layout (panel_layout.h), any n_tokens
  // >= 1 (n_tokens 1 is the matvec), rows in whole panels; nullptr when the level has none. It
  // rounds exactly as matvec / matmul do on the row layout (Q4_0 Q5_0 Q8_0), or (Q4_K, Q6_K) is
  // batch-invariant in its own f32 summation order.
  MatmulFn panel_matmul = nullptr;
};

struct KernelSet {
  Isa isa = Isa::Scalar;
  std::array<FormatKernels, kNumFormats> formats{};  // by format_index()
  QuantizeFn quantize_q8_0 = nullptr;  // writes blocks + sums (layout above)
  QuantizeFn quantize_q8_k = nullptr;
  // gate[i] = silu(gate[i]) * up[i] (SwiGLU); every element computed alike, whatever n.
  void (*swiglu)(float* gate, const float* up, int64_t n) = nullptr;
  // out[i] = half in[i] as float for n values, bit-identical to fp16_to_fp32 (KV cache reads).
  void (*f16_to_f32)(const uint16_t* in, float* out, int64_t n) = nullptr;
  // Runs `iters` iterations of this level's int8 multiply-accumulate instruction on
  // register-resident data and returns the number of int8 operations (2 per multiply-add);
  // roofline.h times it for the peak.
  uint64_t (*int8_peak_probe)(int64_t iters) = nullptr;
  // The read-bandwidth probe's loop (roofline.h): sums `bytes` (a multiple of 256) of p with the
  // level's widest loads; l2_ahead > 0 also prefetches that far ahead into L2.
  uint64_t (*read_probe)(const uint8_t* p, size_t bytes, size_t l2_ahead) = nullptr;

  // formats[format_index(weight_type)].batch_invariant; false for unsupported types. A batched
  // caller (the server) can skip padding token counts when this is true.
  bool batch_invariant(TensorType weight_type) const;

  // Checked entry points (these validate and forward to the tables above).
  void quantize_activations(TensorType weight_type, const float* x, int64_t cols,
                            void* out) const;
  void matvec(TensorType weight_type, const uint8_t* w, size_t row_stride, int64_t row_begin,
              int64_t row_end, int64_t cols, const void* xq, float* y) const;
  void matmul(TensorType weight_type, const uint8_t* w, size_t row_stride, int64_t row_begin,
              int64_t row_end, int64_t cols, const void* xq, size_t xq_stride, int64_t n_tokens,
              float* y, size_t y_stride) const;
  // True when this level reads weight_type in the panel layout.
  bool has_panel_kernels(TensorType weight_type) const;
  // matmul() for weights in the panel layout; row_begin and row_end must be multiples of 16.
  void panel_matmul(TensorType weight_type, const uint8_t* w, size_t row_stride, int64_t row_begin,
                    int64_t row_end, int64_t cols, const void* xq, size_t xq_stride,
                    int64_t n_tokens, float* y, size_t y_stride) const;
};

// The kernels chosen for this process (best level the CPU runs, or EDGELLM_ISA's).
const KernelSet& active();
// A given level's kernels, or nullptr when it was not compiled in or the CPU lacks it.
const KernelSet* for_isa(Isa isa);
// The best level this CPU supports, ignoring EDGELLM_ISA.
Isa best_isa();
// For `edgellm info --cpu`: CPU features, the compiled and usable levels, the active one.
std::string describe();

}  // namespace edgellm::kernels
