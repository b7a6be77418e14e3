// Panel layout conversions (see panel_layout.h). Plain byte moves: a model is repacked once at
// load, and the per-row unpacking only serves embedding lookups and tests.
#include "kernels/panel_layout.h"

#include <cstring>

#include "core/error.h"

namespace edgellm::kernels {

namespace {

constexpr size_t kScaleBytes = 2;
constexpr int kBlockElems = 32;

struct PanelFormat {
  size_t block_bytes;  // one row's block in the GGUF layout
  int vectors;         // 64-byte vectors per panel block
  uint8_t bias;        // xor applied to each quant byte (Q8_0: signed -> value + 128)
};

PanelFormat panel_format(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {18, 4, 0x00};
    case TensorType::Q8_0: return {34, 8, 0x80};
    default: fail("panel layout: type {} has none", type_name(type));
  }
}

}  // namespace

bool has_panel_layout(TensorType type) { return type == TensorType::Q4_0 || type == TensorType::Q8_0; }

bool can_use_panels(TensorType type, int64_t rows, int64_t cols) {
  return has_panel_layout(type) && rows > 0 && rows % kPanelRows == 0 && cols > 0 && cols % kBlockElems == 0;
}

void pack_panels(TensorType type, const uint8_t* src, int64_t cols, int64_t panel_begin,
                 int64_t panel_end, uint8_t* dst) {
  const PanelFormat f = panel_format(type);
  const int64_t nb = cols / kBlockElems;
  const size_t row_stride = static_cast<size_t>(nb) * f.block_bytes;
  const size_t panel_block = kPanelRows * f.block_bytes;
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const size_t base = static_cast<size_t>(p) * kPanelRows * row_stride;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + base + static_cast<size_t>(b) * panel_block;
      for (int64_t r = 0; r < kPanelRows; ++r) {
        const uint8_t* blk = src + base + static_cast<size_t>(r) * row_stride + static_cast<size_t>(b) * f.block_bytes;
        for (int j = 0; j < f.vectors; ++j) {  // one dword (4 quant bytes) at a time
          uint32_t q;
          std::memcpy(&q, blk + kScaleBytes + 4 * j, 4);
          q ^= f.bias * 0x01010101u;
          std::memcpy(out + 64 * j + 4 * r, &q, 4);
        }
        std::memcpy(out + 64 * f.vectors + kScaleBytes * r, blk, kScaleBytes);
      }
    }
  }
}

void unpack_panel_row(TensorType type, const uint8_t* panels, int64_t cols, int64_t r, uint8_t* out) {
  const PanelFormat f = panel_format(type);
  const int64_t nb = cols / kBlockElems;
  const size_t row_stride = static_cast<size_t>(nb) * f.block_bytes;
  const size_t panel_block = kPanelRows * f.block_bytes;
  const int64_t p = r / kPanelRows, pr = r % kPanelRows;
  const uint8_t* panel = panels + static_cast<size_t>(p) * kPanelRows * row_stride;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* in = panel + static_cast<size_t>(b) * panel_block;
    uint8_t* blk = out + static_cast<size_t>(b) * f.block_bytes;
    std::memcpy(blk, in + 64 * f.vectors + kScaleBytes * pr, kScaleBytes);
    for (int j = 0; j < f.vectors; ++j)
      for (int i = 0; i < 4; ++i) blk[kScaleBytes + 4 * j + i] = in[64 * j + 4 * pr + i] ^ f.bias;
  }
}

}  // namespace edgellm::kernels
