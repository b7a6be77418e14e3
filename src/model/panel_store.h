// Weight matrices repacked once, at load, into the 16-row panel layout (kernels/panel_layout.h)
// that the active kernels read fastest at every batch size. The repacked copy lives in
// anonymous memory (2 MiB-aligned arenas on huge pages where the kernel allows) and the file pages it came from are
// dropped, so resident memory stays at the file's size. Matrices whose format or shape has no
// panel kernels on this CPU stay mapped in place.
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

  // Repacks m in place when possible (m must view the file's mapping, in row layout).
  void repack(kernels::WeightMatrix& m);
  // Copies m, in its row layout, onto the store's huge pages (for a matrix whose panels stream
  // slower than its rows); the file pages are dropped as for a repack.
  void relocate(kernels::WeightMatrix& m);
  // The same for the matrices of one stacked tensor (consecutive in the file).
  void repack(std::vector<kernels::WeightMatrix>& stacked);

  size_t repacked_bytes() const { return bytes_; }
  // The byte ranges of the file's mapping that were repacked (and so are no longer read), in
  // load order.
  const std::vector<std::pair<const uint8_t*, const uint8_t*>>& replaced() const { return replaced_; }

 private:
  uint8_t* allocate(size_t n);
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
