// The key/value cache of one sequence: for every layer, the keys and values of every position
// seen so far, stored row per position in F16 (default) or F32. Each layer declares its own row
// widths, so an architecture with a different attention (e.g. MLA) sizes its own rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace edgellm::runtime {

enum class KvType { F16, F32 };

// Cached rows as F32: row p (n_cols values of `type` at src + p * src_stride elements) to
// out + p * out_stride floats. The one conversion behind every read of cached rows (KvCache
// reads, the batch's key read-back, the portable attention loops).
void kv_rows_to_f32(KvType type, const void* src, size_t src_stride, int64_t n_rows, int64_t n_cols,
                    float* out, size_t out_stride);
KvType kv_type_from_name(std::string_view name);  // "f16" | "f32", else edgellm::Error
std::string_view kv_type_name(KvType type);

struct KvLayerShape {
  int64_t k_width = 0;  // floats per position in the key row (all KV heads)
  int64_t v_width = 0;  // 0: the layer keeps no value rows (MLA reads its values from the keys)
};

// Key and value rows of one layer, in F16 or F32 (the other pair of vectors stays empty).
struct KvLayerRows {
  KvLayerShape shape;
  std::vector<uint16_t> k16, v16;
  std::vector<float> k32, v32;
};

// n_rows zeroed rows for every layer shape; `owner` names the cache in error messages (a layer
// without key rows is an error).
std::vector<KvLayerRows> allocate_kv_rows(const std::vector<KvLayerShape>& layers, int64_t n_rows,
                                          KvType type, std::string_view owner);

class KvCache {
 public:
  KvCache(int64_t n_ctx, std::vector<KvLayerShape> layers, KvType type);

  int64_t n_ctx() const { return n_ctx_; }
  KvType type() const { return type_; }
  size_t n_layers() const { return layers_.size(); }
  const KvLayerShape& shape(int layer) const;
  size_t size_bytes() const;
  // Cache bytes one position takes over all layers (keys and values).
  size_t bytes_per_token() const;

  // Writes n_tokens rows of keys and values (k: n_tokens × k_width, v: n_tokens × v_width) at
  // positions pos .. pos+n_tokens-1 (v may be null when v_width is 0). Throws when that does
  // not fit in the context.
  void store(int layer, int64_t pos, int64_t n_tokens, const float* k, const float* v);

  // Copies columns [col, col+n_cols) of positions [0, n_pos) as floats into out (n_pos × n_cols).
  void read_k(int layer, int64_t n_pos, int64_t col, int64_t n_cols, float* out) const;
  void read_v(int layer, int64_t n_pos, int64_t col, int64_t n_cols, float* out) const;

  // In-place access for attention kernels: the layer's first key (value) row; position p's row
  // starts p · k_width (v_width) elements further. Elements are F16 bits (uint16_t) or floats,
  // per type(). Valid for the cache's lifetime; value_data is null when v_width is 0.
  const void* key_data(int layer) const;
  const void* value_data(int layer) const;

 private:
  using Layer = KvLayerRows;
  void read(const Layer& layer, bool keys, int64_t n_pos, int64_t col, int64_t n_cols,
            float* out) const;
  int64_t n_ctx_;
  KvType type_;
  std::vector<Layer> layers_;
};

}  // namespace edgellm::runtime
