// The 16-row panel layout of Q4_0, Q5_0, Q8_0, Q4_K and Q6_K weights, which the batched kernels
// read without repacking per call. A model may repack such matrices once, at load
// (model/panel_store.h).
//
// A panel is 16 consecutive rows; it occupies exactly the bytes those rows do in the GGUF row
// layout (panel p starts at 16p * row_bytes), so sizes and row-range addressing do not change.
// Inside a panel the blocks follow one another; block b of the panel is:
//   Q4_0 (288 bytes): 4 vectors of 64 bytes, then the 16 rows' fp16 scales. Dword r of vector j
//        is bytes 4j..4j+3 of row r's 16 nibble bytes: its low nibbles are elements 4j..4j+3,
//        its high nibbles elements 16+4j..16+4j+3 (unsigned, value + 8).
//   Q5_0 (352 bytes): the 4 nibble vectors as Q4_0, then 8 little-endian 64-bit masks of the
//        fifth bits, then the 16 fp16 scales. Weight vector k (k < 4: the low nibbles of vector
//        k, k >= 4: the high nibbles of vector k - 4) holds elements 4k..4k+3 of every row, and
//        bit 4r + i of mask k is the fifth bit of element 4k + i of row r: the byte mask that
//        adds 16 to byte 4r + i (unsigned, value + 16).
//   Q8_0 (544 bytes): 8 vectors of 64 bytes, then the 16 fp16 scales. Dword r of vector j is
//        elements 4j..4j+3 of row r, each stored as value + 128 (an unsigned byte).
//   Q4_K (2304 bytes, one 256-weight super-block): 32 vectors of 64 bytes, then the 16 rows' fp16
//        d (32 bytes), their fp16 dmin (32 bytes), and three vectors of their 6-bit scales and
//        mins. Dword r of nibble vector v is bytes 4v..4v+3 of row r's 128 nibble bytes (v = 8c +
//        j: low nibbles elements 64c+4j..+3 of sub-block 2c, high nibbles the same of 2c+1).
//        Byte i < 4 of dword r of the scale vectors: low-scales (sc_i & 15) | (sc_{i+4} & 15) << 4,
//        low-mins the same for the mins, high bits (sc_i >> 4) | (sc_{i+4} >> 4) << 2 |
//        (m_i >> 4) << 4 | (m_{i+4} >> 4) << 6: a few shifts and masks give sixteen rows' scales.
//   Q6_K (3360 bytes per 256-element super-block, panel_layout_q6k.cpp): the int8 scales (byte
//        16k + r: sub-block k of row r), then 48 vectors of 6-bit quants (3072 bytes), then the
//        16 rows' fp16 d, so that a block is read front to back (with the scales behind the
//        quants a decode streamed 0.52-0.57 of the read bound in simd_bench pool_matvec, in
//        front 0.62-0.68). The quants form 16 units of 3 vectors A B C; unit 4Q + j
//        holds dword j (elements 16k + 4j .. +3) of the four sub-blocks k = 4Q + p, p = 0..3:
//        byte 4r + i of A, B, C keeps in bits 0..5 the quant (0..63) of element 16k + 4j + i of
//        row r for p = 0, 1, 2, and in bits 6..7 bits 4..5, 2..3, 0..1 of that for p = 3. So
//        p < 3 is one AND, and p = 3 comes out as 4 q with two shifts, two bit-selects and an
//        AND (x86_q6k_panel-inl.h).
// So one 64-byte load yields one dword of sixteen rows: the operand a 512-bit int8 dot product
// multiplies by a broadcast dword of activations.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace edgellm::kernels {

inline constexpr int64_t kPanelRows = 16;

// Byte offsets inside one panel block of the K-quant layouts above (shared by the packing code
// and the kernels that read them).
struct Q4KPanelOffsets {
  static constexpr size_t kBlockBytes = kPanelRows * 144;  // one 256-weight super-block
  static constexpr size_t kD = 2048, kDmin = 2080, kLowScales = 2112, kLowMins = 2176, kHighBits = 2240;
};
struct Q6KPanelOffsets {
  static constexpr size_t kBlockBytes = kPanelRows * 210;
  static constexpr size_t kScales = 0, kQuants = 256, kD = 3328;
};

// True for the formats that have a panel layout (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K).
bool has_panel_layout(TensorType type);
// True when a rows x cols matrix of `type` can be stored as panels (rows a multiple of 16, cols
// of whole blocks).
bool can_use_panels(TensorType type, int64_t rows, int64_t cols);

// Rewrites panels [panel_begin, panel_end) of a row-layout matrix (src) into dst, both laid out
// from row 0 (so panel p is at 16p * row_bytes in each). src and dst must not overlap.
void pack_panels(TensorType type, const uint8_t* src, int64_t cols, int64_t panel_begin,
                 int64_t panel_end, uint8_t* dst);

// Row r of a panel-layout matrix, written in the GGUF row layout (row_bytes(type, cols) bytes).
void unpack_panel_row(TensorType type, const uint8_t* panels, int64_t cols, int64_t r, uint8_t* out);

namespace detail {
// The Q6_K conversions (panel_layout_q6k.cpp), arguments as above.
void pack_panels_q6_k(const uint8_t* src, int64_t cols, int64_t panel_begin, int64_t panel_end, uint8_t* dst);
void unpack_panel_row_q6_k(const uint8_t* panels, int64_t cols, int64_t r, uint8_t* out);
}  // namespace detail

}  // namespace edgellm::kernels
