#include "model/panel_store.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/kernels.h"

namespace edgellm::model {

PanelStore::PanelStore(PanelStore&& o) noexcept
    : file_(o.file_), enabled_(o.enabled_), regions_(std::move(o.regions_)), replaced_(std::move(o.replaced_)),
      bytes_(o.bytes_) {
  o.regions_.clear();
}

bool PanelStore::replaced(const uint8_t* p) const {
  for (const auto& [begin, end] : replaced_)
    if (p >= begin && p < end) return true;
  return false;
}

PanelStore::~PanelStore() {
  for (const Region& r : regions_) munmap(r.address, r.length);
}

uint8_t* PanelStore::allocate(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("cannot allocate {} bytes for repacked weights: {}", n, std::strerror(errno));
  // Fewer TLB misses while decoding streams the weights; only a hint (THP may be off).
  madvise(p, n, MADV_HUGEPAGE);
  regions_.push_back({p, n});
  return static_cast<uint8_t*>(p);
}

bool PanelStore::eligible(const kernels::WeightMatrix& m) const {
  return enabled_ && !m.panels && kernels::can_use_panels(m.type, m.rows, m.cols) &&
         kernels::active().has_panel_kernels(m.type);
}

void PanelStore::repack(kernels::WeightMatrix& m) {
  if (!eligible(m)) return;
  const size_t n = m.row_stride() * static_cast<size_t>(m.rows);
  uint8_t* dst = allocate(n);
  kernels::pack_panels(m.type, m.data, m.cols, 0, m.rows / kernels::kPanelRows, dst);
  file_.drop_pages(m.data, n);
  replaced_.emplace_back(m.data, m.data + n);
  m.data = dst;
  m.panels = true;
  bytes_ += n;
}

void PanelStore::repack(std::vector<kernels::WeightMatrix>& stacked) {
  if (stacked.empty() || !eligible(stacked.front())) return;
  const size_t each = stacked.front().row_stride() * static_cast<size_t>(stacked.front().rows);
  for (size_t i = 1; i < stacked.size(); ++i)
    if (stacked[i].data != stacked[0].data + i * each) fail("repack: stacked matrices are not consecutive");
  const uint8_t* src = stacked.front().data;
  uint8_t* dst = allocate(each * stacked.size());
  for (size_t i = 0; i < stacked.size(); ++i) {
    kernels::WeightMatrix& m = stacked[i];
    kernels::pack_panels(m.type, m.data, m.cols, 0, m.rows / kernels::kPanelRows, dst + i * each);
    m.data = dst + i * each;
    m.panels = true;
  }
  file_.drop_pages(src, each * stacked.size());
  replaced_.emplace_back(src, src + each * stacked.size());
  bytes_ += each * stacked.size();
}

}  // namespace edgellm::model
