#include "runtime/kv_cache.h"

#include <algorithm>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/simd/kernels.h"

namespace edgellm::runtime {

KvType kv_type_from_name(std::string_view name) {
  if (name == "f16") return KvType::F16;
  if (name == "f32") return KvType::F32;
  fail("unknown KV cache type '{}' (expected f16 or f32)", name);
}

std::string_view kv_type_name(KvType type) { return type == KvType::F16 ? "f16" : "f32"; }

std::vector<KvLayerRows> allocate_kv_rows(const std::vector<KvLayerShape>& layers, int64_t n_rows,
                                          KvType type, std::string_view owner) {
  std::vector<KvLayerRows> rows(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const KvLayerShape& s = layers[i];
    if (s.k_width <= 0 || s.v_width < 0) fail("{}: layer {} has empty key rows", owner, i);
    KvLayerRows& l = rows[i];
    l.shape = s;
    const auto nk = static_cast<size_t>(n_rows * s.k_width);
    const auto nv = static_cast<size_t>(n_rows * s.v_width);
    if (type == KvType::F16) {
      l.k16.resize(nk);
      l.v16.resize(nv);
    } else {
      l.k32.resize(nk);
      l.v32.resize(nv);
    }
  }
  return rows;
}

KvCache::KvCache(int64_t n_ctx, std::vector<KvLayerShape> layers, KvType type)
    : n_ctx_(n_ctx), type_(type) {
  if (n_ctx <= 0) fail("KV cache: context size {} must be positive", n_ctx);
  layers_ = allocate_kv_rows(layers, n_ctx, type, "KV cache");
}

const KvLayerShape& KvCache::shape(int layer) const {
  if (layer < 0 || static_cast<size_t>(layer) >= layers_.size())
    fail("KV cache: layer {} out of range ({} layers)", layer, layers_.size());
  return layers_[static_cast<size_t>(layer)].shape;
}

size_t KvCache::size_bytes() const {
  size_t total = 0;
  for (const Layer& l : layers_)
    total += (l.k16.size() + l.v16.size()) * 2 + (l.k32.size() + l.v32.size()) * 4;
  return total;
}

size_t KvCache::bytes_per_token() const {
  const size_t elem = type_ == KvType::F16 ? 2 : 4;
  size_t total = 0;
  for (const Layer& l : layers_) total += static_cast<size_t>(l.shape.k_width + l.shape.v_width) * elem;
  return total;
}

void KvCache::store(int layer, int64_t pos, int64_t n_tokens, const float* k, const float* v) {
  shape(layer);
  if (pos < 0 || n_tokens < 0 || pos + n_tokens > n_ctx_)
    fail("context is full: cannot store positions {}..{} in a KV cache of {} positions", pos,
         pos + n_tokens - 1, n_ctx_);
  Layer& l = layers_[static_cast<size_t>(layer)];
  const int64_t kw = l.shape.k_width, vw = l.shape.v_width;
  if (type_ == KvType::F16) {
    for (int64_t i = 0; i < n_tokens * kw; ++i) l.k16[static_cast<size_t>(pos * kw + i)] = fp32_to_fp16(k[i]);
    for (int64_t i = 0; i < n_tokens * vw; ++i) l.v16[static_cast<size_t>(pos * vw + i)] = fp32_to_fp16(v[i]);
  } else {
    std::copy(k, k + n_tokens * kw, l.k32.begin() + pos * kw);
    if (vw > 0) std::copy(v, v + n_tokens * vw, l.v32.begin() + pos * vw);
  }
}

void kv_rows_to_f32(KvType type, const void* src, size_t src_stride, int64_t n_rows, int64_t n_cols,
                    float* out, size_t out_stride) {
  for (int64_t p = 0; p < n_rows; ++p) {
    const size_t at = static_cast<size_t>(p) * src_stride;
    float* dst = out + static_cast<size_t>(p) * out_stride;
    if (type == KvType::F16) {
      kernels::active().f16_to_f32(static_cast<const uint16_t*>(src) + at, dst, n_cols);
    } else {
      const float* row = static_cast<const float*>(src) + at;
      std::copy(row, row + n_cols, dst);
    }
  }
}

void KvCache::read(const Layer& l, bool keys, int64_t n_pos, int64_t col, int64_t n_cols,
                   float* out) const {
  const int64_t width = keys ? l.shape.k_width : l.shape.v_width;
  if (n_pos < 0 || n_pos > n_ctx_ || col < 0 || n_cols < 0 || col + n_cols > width)
    fail("KV cache: read of {} positions, columns {}+{} out of range (width {})", n_pos, col, n_cols, width);
  const void* src = type_ == KvType::F16 ? static_cast<const void*>((keys ? l.k16 : l.v16).data() + col)
                                          : static_cast<const void*>((keys ? l.k32 : l.v32).data() + col);
  kv_rows_to_f32(type_, src, static_cast<size_t>(width), n_pos, n_cols, out, static_cast<size_t>(n_cols));
}

void KvCache::read_k(int layer, int64_t n_pos, int64_t col, int64_t n_cols, float* out) const {
  shape(layer);
  read(layers_[static_cast<size_t>(layer)], true, n_pos, col, n_cols, out);
}

void KvCache::read_v(int layer, int64_t n_pos, int64_t col, int64_t n_cols, float* out) const {
  shape(layer);
  read(layers_[static_cast<size_t>(layer)], false, n_pos, col, n_cols, out);
}

const void* KvCache::key_data(int layer) const {
  shape(layer);
  const Layer& l = layers_[static_cast<size_t>(layer)];
  return type_ == KvType::F16 ? static_cast<const void*>(l.k16.data()) : l.k32.data();
}

const void* KvCache::value_data(int layer) const {
  shape(layer);
  const Layer& l = layers_[static_cast<size_t>(layer)];
  if (l.shape.v_width == 0) return nullptr;
  return type_ == KvType::F16 ? static_cast<const void*>(l.v16.data()) : l.v32.data();
}

}  // namespace edgellm::runtime
