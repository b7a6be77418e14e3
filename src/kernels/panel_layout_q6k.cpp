// The Q6_K panel layout (panel_layout.h): plain bit moves, run once per matrix at load; the
// per-row unpacking only serves embedding lookups and tests.
//
// Why 6-bit units and not the GGUF split (4 low bits in ql, 2 high bits in qh): with the
// split, every weight vector needs its two high bits shifted into place and masked on their own
// (x86 has no byte shift, so a 16-bit shift drags in the neighbouring byte's bits), 13 vector
// operations per 4 weight vectors; a unit of 3 vectors with three whole quants and the three
// 2-bit parts of a fourth needs 8.
#include <cstring>

#include "kernels/panel_layout.h"
#include "kernels/quant/quant_blocks.h"

namespace edgellm::kernels::detail {

namespace {

constexpr int kSuperBlock = 256;
constexpr size_t kRowBlockBytes = sizeof(quant::BlockQ6_K);          // 210
constexpr size_t kPanelBlockBytes = kPanelRows * kRowBlockBytes;     // 3360
constexpr size_t kScalesAt = Q6KPanelOffsets::kScales, kScaleDAt = Q6KPanelOffsets::kD;
constexpr size_t kQuantsAt = Q6KPanelOffsets::kQuants;
static_assert(kQuantsAt == kScalesAt + 16 * 16 && kScaleDAt == kQuantsAt + 3072 && kScaleDAt + 2 * kPanelRows == kPanelBlockBytes &&
              kPanelBlockBytes == Q6KPanelOffsets::kBlockBytes);

// The quant (0..63) of element e of a GGUF block (quant_blocks.h: per 128 elements, ql[l] and
// ql[l + 32] hold the low nibbles of l, l + 32 (low) and l + 64, l + 96 (high), qh[l] the top
// two bits of l, l + 32, l + 64, l + 96).
int get_quant(const uint8_t* blk, int e) {
  const int half = e / 128, part = (e % 128) / 32, i = e % 32;
  const uint8_t low = blk[64 * half + 32 * (part & 1) + i];
  const int lo4 = part < 2 ? (low & 15) : (low >> 4);
  const int hi2 = (blk[128 + 32 * half + i] >> (2 * part)) & 3;
  return lo4 | hi2 << 4;
}

// Sets element e's quant in a GGUF block whose ql / qh bytes started at zero.
void put_quant(uint8_t* blk, int e, int q) {
  const int half = e / 128, part = (e % 128) / 32, i = e % 32;
  blk[64 * half + 32 * (part & 1) + i] |= static_cast<uint8_t>((q & 15) << (part < 2 ? 0 : 4));
  blk[128 + 32 * half + i] |= static_cast<uint8_t>((q >> 4) << (2 * part));
}

// Where element e of a row sits in a panel block: the unit's first byte for row 0 (the row adds
// 4 r, A / B / C are 0 / 64 / 128 bytes on) and its role p (sub-block k = 4Q + p).
struct Slot {
  size_t unit_at;
  int role;
};

Slot slot_of(int e) {
  const int k = e / 16, j = (e % 16) / 4, i = e % 4;
  const int unit = 4 * (k / 4) + j;
  return {kQuantsAt + static_cast<size_t>(192 * unit + i), k % 4};
}

}  // namespace

void pack_panels_q6_k(const uint8_t* src, int64_t cols, int64_t panel_begin, int64_t panel_end, uint8_t* dst) {
  const int64_t nb = cols / kSuperBlock;
  const size_t row_stride = static_cast<size_t>(nb) * kRowBlockBytes;
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const size_t base = static_cast<size_t>(p) * kPanelRows * row_stride;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + base + static_cast<size_t>(b) * kPanelBlockBytes;
      std::memset(out + kQuantsAt, 0, kScaleDAt - kQuantsAt);
      for (int64_t r = 0; r < kPanelRows; ++r) {
        const uint8_t* blk = src + base + static_cast<size_t>(r) * row_stride + static_cast<size_t>(b) * kRowBlockBytes;
        for (int e = 0; e < kSuperBlock; ++e) {
          const Slot s = slot_of(e);
          const int q = get_quant(blk, e);
          uint8_t* unit = out + s.unit_at + 4 * static_cast<size_t>(r);
          if (s.role < 3) {
            unit[64 * s.role] |= static_cast<uint8_t>(q);
          } else {  // bits 4..5 to A, 2..3 to B, 0..1 to C, each in bits 6..7
            for (int v = 0; v < 3; ++v) unit[64 * v] |= static_cast<uint8_t>(((q >> (4 - 2 * v)) & 3) << 6);
          }
        }
        for (int k = 0; k < 16; ++k) out[kScalesAt + 16 * k + r] = blk[192 + k];
        std::memcpy(out + kScaleDAt + 2 * r, blk + 208, 2);
      }
    }
  }
}

void unpack_panel_row_q6_k(const uint8_t* panels, int64_t cols, int64_t r, uint8_t* out) {
  const int64_t nb = cols / kSuperBlock;
  const size_t row_stride = static_cast<size_t>(nb) * kRowBlockBytes;
  const int64_t p = r / kPanelRows, pr = r % kPanelRows;
  const uint8_t* panel = panels + static_cast<size_t>(p) * kPanelRows * row_stride;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* in = panel + static_cast<size_t>(b) * kPanelBlockBytes;
    uint8_t* blk = out + static_cast<size_t>(b) * kRowBlockBytes;
    std::memset(blk, 0, 192);
    for (int e = 0; e < kSuperBlock; ++e) {
      const Slot s = slot_of(e);
      const uint8_t* unit = in + s.unit_at + 4 * static_cast<size_t>(pr);
      int q = 0;
      if (s.role < 3) {
        q = unit[64 * s.role] & 63;
      } else {
        for (int v = 0; v < 3; ++v) q |= (unit[64 * v] >> 6) << (4 - 2 * v);
      }
      put_quant(blk, e, q);
    }
    for (int k = 0; k < 16; ++k) blk[192 + k] = in[kScalesAt + 16 * k + static_cast<size_t>(pr)];
    std::memcpy(blk + 208, in + kScaleDAt + 2 * pr, 2);
  }
}

}  // namespace edgellm::kernels::detail
