// Panel layout conversions (see panel_layout.h). Plain byte moves: a model is repacked once at
// load, and the per-row unpacking only serves embedding lookups and tests.
#include "kernels/panel_layout.h"

#include <cstring>

#include "core/error.h"
#include "kernels/quant/quant_blocks.h"

namespace edgellm::kernels {

namespace {

constexpr size_t kScaleBytes = 2;
constexpr int kBlockElems = 32;
constexpr size_t kVectorBytes = 64;
constexpr int kFifthBitMasks = 8;  // Q5_0: one 64-bit mask per weight vector

struct PanelFormat {
  size_t block_bytes;  // one row's block in the GGUF layout
  size_t quant_at;     // where the row's nibble / int8 bytes start in its block
  int vectors;         // 64-byte vectors per panel block
  uint8_t bias;        // xor applied to each quant byte (Q8_0: signed -> value + 128)
  bool fifth_bits;     // Q5_0: the qh word after the scale, 8 bit masks in the panel
  size_t scales_at() const { return kVectorBytes * static_cast<size_t>(vectors) + (fifth_bits ? 64 : 0); }
};

PanelFormat panel_format(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {18, 2, 4, 0x00, false};
    case TensorType::Q5_0: return {22, 6, 4, 0x00, true};
    case TensorType::Q8_0: return {34, 2, 8, 0x80, false};
    default: fail("panel layout: type {} has none", type_name(type));
  }
}

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Nibble k of qh (the fifth bits of elements 4k..4k+3) goes to nibble `row` of mask k, so bit
// 4 * row + i of mask k belongs to byte 4 * row + i of weight vector k (element 4k + i).
void scatter_fifth_bits(uint32_t qh, int64_t row, uint64_t masks[kFifthBitMasks]) {
  for (int k = 0; k < kFifthBitMasks; ++k) masks[k] |= uint64_t{(qh >> (4 * k)) & 0xfu} << (4 * row);
}

// The 8 masks, little-endian (the kernel loads each into a 64-bit mask register).
void store_fifth_bits(const uint64_t masks[kFifthBitMasks], uint8_t* out) {
  for (int k = 0; k < kFifthBitMasks; ++k)
    for (int i = 0; i < 8; ++i) out[8 * k + i] = static_cast<uint8_t>(masks[k] >> (8 * i));
}

// Row `row`'s qh word back from the masks.
uint32_t gather_fifth_bits(const uint8_t* masks, int64_t row) {
  uint32_t qh = 0;
  for (int k = 0; k < kFifthBitMasks; ++k) {
    const uint8_t byte = masks[8 * k + row / 2];  // masks are little-endian
    qh |= uint32_t{(row % 2 == 0 ? byte : byte >> 4) & 0xfu} << (4 * k);
  }
  return qh;
}

// Q4_K (see panel_layout.h): the 12 GGUF scale bytes are a bijective packing of 8 six-bit
// scales and 8 mins (quant::unpack_scale_min_k4 / pack_scale_min_k4), so decoding and
// re-encoding them is lossless.
constexpr size_t kQ4KBytes = 144, kQ4KPanelQuants = 2048, kQ4KPanelD = Q4KPanelOffsets::kD,
                 kQ4KPanelDmin = Q4KPanelOffsets::kDmin, kQ4KPanelLowSc = Q4KPanelOffsets::kLowScales,
                 kQ4KPanelLowMin = Q4KPanelOffsets::kLowMins, kQ4KPanelHigh = Q4KPanelOffsets::kHighBits;

void pack_q4k(const uint8_t* src, int64_t cols, int64_t panel_begin, int64_t panel_end, uint8_t* dst) {
  const int64_t nb = cols / 256;
  const size_t row_stride = static_cast<size_t>(nb) * kQ4KBytes;
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const size_t base = static_cast<size_t>(p) * kPanelRows * row_stride;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + base + static_cast<size_t>(b) * kPanelRows * kQ4KBytes;
      for (int64_t r = 0; r < kPanelRows; ++r) {
        const uint8_t* blk = src + base + static_cast<size_t>(r) * row_stride + static_cast<size_t>(b) * kQ4KBytes;
        for (int v = 0; v < 32; ++v) std::memcpy(out + kVectorBytes * v + 4 * r, blk + 16 + 4 * v, 4);
        std::memcpy(out + kQ4KPanelD + 2 * r, blk, 2);
        std::memcpy(out + kQ4KPanelDmin + 2 * r, blk + 2, 2);
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 8; ++j) {
          const quant::ScaleMin sm = quant::unpack_scale_min_k4(j, blk + 4);
          sc[j] = sm.scale;
          mn[j] = sm.min;
        }
        for (int i = 0; i < 4; ++i) {
          out[kQ4KPanelLowSc + 4 * r + i] = static_cast<uint8_t>((sc[i] & 15) | (sc[i + 4] & 15) << 4);
          out[kQ4KPanelLowMin + 4 * r + i] = static_cast<uint8_t>((mn[i] & 15) | (mn[i + 4] & 15) << 4);
          out[kQ4KPanelHigh + 4 * r + i] =
              static_cast<uint8_t>(sc[i] >> 4 | (sc[i + 4] >> 4) << 2 | (mn[i] >> 4) << 4 | (mn[i + 4] >> 4) << 6);
        }
      }
    }
  }
}

void unpack_q4k_row(const uint8_t* panels, int64_t cols, int64_t r, uint8_t* out) {
  const int64_t nb = cols / 256;
  const size_t row_stride = static_cast<size_t>(nb) * kQ4KBytes;
  const int64_t pr = r % kPanelRows;
  const uint8_t* panel = panels + static_cast<size_t>(r / kPanelRows) * kPanelRows * row_stride;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* in = panel + static_cast<size_t>(b) * kPanelRows * kQ4KBytes;
    uint8_t* blk = out + static_cast<size_t>(b) * kQ4KBytes;
    std::memcpy(blk, in + kQ4KPanelD + 2 * pr, 2);
    std::memcpy(blk + 2, in + kQ4KPanelDmin + 2 * pr, 2);
    uint8_t sc[8], mn[8];
    for (int i = 0; i < 4; ++i) {
      const uint8_t ls = in[kQ4KPanelLowSc + 4 * pr + i], lm = in[kQ4KPanelLowMin + 4 * pr + i];
      const uint8_t h = in[kQ4KPanelHigh + 4 * pr + i];
      sc[i] = static_cast<uint8_t>((ls & 15) | (h & 3) << 4);
      sc[i + 4] = static_cast<uint8_t>((ls >> 4) | (h >> 2 & 3) << 4);
      mn[i] = static_cast<uint8_t>((lm & 15) | (h >> 4 & 3) << 4);
      mn[i + 4] = static_cast<uint8_t>((lm >> 4) | (h >> 6) << 4);
    }
    quant::pack_scale_min_k4(sc, mn, blk + 4);
    for (int v = 0; v < 32; ++v) std::memcpy(blk + 16 + 4 * v, in + kVectorBytes * v + 4 * pr, 4);
  }
  static_assert(kQ4KPanelQuants == 32 * kVectorBytes && kQ4KPanelHigh + 64 == kPanelRows * kQ4KBytes);
}

}  // namespace

bool has_panel_layout(TensorType type) {
  return type == TensorType::Q4_0 || type == TensorType::Q5_0 || type == TensorType::Q8_0 ||
         type == TensorType::Q4_K || type == TensorType::Q6_K;
}

bool can_use_panels(TensorType type, int64_t rows, int64_t cols) {
  return has_panel_layout(type) && rows > 0 && rows % kPanelRows == 0 && cols > 0 &&
         cols % traits(type).block_size == 0;
}

void pack_panels(TensorType type, const uint8_t* src, int64_t cols, int64_t panel_begin,
                 int64_t panel_end, uint8_t* dst) {
  if (type == TensorType::Q4_K) return pack_q4k(src, cols, panel_begin, panel_end, dst);
  if (type == TensorType::Q6_K) return detail::pack_panels_q6_k(src, cols, panel_begin, panel_end, dst);
  const PanelFormat f = panel_format(type);
  const int64_t nb = cols / kBlockElems;
  const size_t row_stride = static_cast<size_t>(nb) * f.block_bytes;
  const size_t panel_block = kPanelRows * f.block_bytes;
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const size_t base = static_cast<size_t>(p) * kPanelRows * row_stride;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + base + static_cast<size_t>(b) * panel_block;
      uint64_t masks[kFifthBitMasks] = {};
      for (int64_t r = 0; r < kPanelRows; ++r) {
        const uint8_t* blk = src + base + static_cast<size_t>(r) * row_stride + static_cast<size_t>(b) * f.block_bytes;
        for (int j = 0; j < f.vectors; ++j) {  // one dword (4 quant bytes) at a time
          uint32_t q;
          std::memcpy(&q, blk + f.quant_at + 4 * j, 4);
          q ^= f.bias * 0x01010101u;
          std::memcpy(out + kVectorBytes * j + 4 * r, &q, 4);
        }
        if (f.fifth_bits) scatter_fifth_bits(load_le32(blk + kScaleBytes), r, masks);
        std::memcpy(out + f.scales_at() + kScaleBytes * r, blk, kScaleBytes);
      }
      if (f.fifth_bits) store_fifth_bits(masks, out + kVectorBytes * f.vectors);
    }
  }
}

void unpack_panel_row(TensorType type, const uint8_t* panels, int64_t cols, int64_t r, uint8_t* out) {
  if (type == TensorType::Q4_K) return unpack_q4k_row(panels, cols, r, out);
  if (type == TensorType::Q6_K) return detail::unpack_panel_row_q6_k(panels, cols, r, out);
  const PanelFormat f = panel_format(type);
  const int64_t nb = cols / kBlockElems;
  const size_t row_stride = static_cast<size_t>(nb) * f.block_bytes;
  const size_t panel_block = kPanelRows * f.block_bytes;
  const int64_t p = r / kPanelRows, pr = r % kPanelRows;
  const uint8_t* panel = panels + static_cast<size_t>(p) * kPanelRows * row_stride;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* in = panel + static_cast<size_t>(b) * panel_block;
    uint8_t* blk = out + static_cast<size_t>(b) * f.block_bytes;
    std::memcpy(blk, in + f.scales_at() + kScaleBytes * pr, kScaleBytes);
    if (f.fifth_bits) {
      const uint32_t qh = gather_fifth_bits(in + kVectorBytes * f.vectors, pr);
      for (int i = 0; i < 4; ++i) blk[kScaleBytes + i] = static_cast<uint8_t>(qh >> (8 * i));
    }
    for (int j = 0; j < f.vectors; ++j)
      for (int i = 0; i < 4; ++i) blk[f.quant_at + 4 * j + i] = in[kVectorBytes * j + 4 * pr + i] ^ f.bias;
  }
}

}  // namespace edgellm::kernels
