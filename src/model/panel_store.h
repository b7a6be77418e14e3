// Weight matrices moved once, at load, off the file's mapping into anonymous memory (2 MiB-
// aligned arenas on huge pages where the kernel allows: decode streams every byte each token,
// and 4 KiB pages cost a TLB miss each): into the 16-row panel layout (kernels/panel_layout.h)
// when the active kernels read that faster, else as they are, in rows. The file pages they came
// from are dropped, so resident memory stays at the file's size.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "core/huge_page_mapping.h"
#include "kernels/matmul.h"

namespace edgellm::gguf {
class GgufFile;
}

namespace edgellm::model {

class PanelStore {
 public:
  PanelStore(const gguf::GgufFile& file, bool enabled) : file_(file), enabled_(enabled) {}
  PanelStore(const PanelStore&) = delete;
  PanelStore& operator=(const PanelStore&) = delete;

  // Repacks m into panels when its format has them and streams faster so, else relocates it
  // (m must view the file's mapping, in row layout).
  void repack(kernels::WeightMatrix& m);
  // Copies m, in its row layout, onto the store's huge pages; the file pages are dropped as for
  // a repack. Nothing happens to a matrix outside the file's mapping (already moved).
  void relocate(kernels::WeightMatrix& m);
  // The same as repack for the matrices of one stacked tensor (consecutive in the file).
  void repack(std::vector<kernels::WeightMatrix>& stacked);

  // Bytes the store holds (repacked or relocated).
  size_t repacked_bytes() const { return bytes_; }
  // Formats whose panels the active kernels have, but whose rows stream faster from DRAM.
  static bool streams_faster_in_rows(TensorType type);
  // The byte ranges of the file's mapping that were repacked (and so are no longer read), in
  // load order.
  const std::vector<std::pair<const uint8_t*, const uint8_t*>>& replaced() const { return replaced_; }

 private:
  uint8_t* allocate(size_t n);
  // Moves [src, src + n) of the file's mapping into an arena: fill(dst) writes the copy (panels
  // or rows), then the file pages are dropped and the range recorded. nullptr, and nothing done,
  // when the store is off or the range is not in the mapping (already moved).
  template <class Fill>
  uint8_t* take_over(const uint8_t* src, size_t n, const Fill& fill);
  bool eligible(const kernels::WeightMatrix& m) const;

  const gguf::GgufFile& file_;
  bool enabled_;
  std::vector<core::HugePageMapping> arenas_;
  uint8_t* arena_next_ = nullptr;  // the free tail of the newest arena
  size_t arena_left_ = 0;
  std::vector<std::pair<const uint8_t*, const uint8_t*>> replaced_;
  size_t bytes_ = 0;
};

}  // namespace edgellm::model
