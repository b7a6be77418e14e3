// The tensor element formats of GGUF (ggml_type ids), with their block geometry. The ids are
// part of the file format and must never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace edgellm {

enum class TensorType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3,
  // 4 and 5 were Q4_2 / Q4_3, removed from ggml
  Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35,
};

struct TensorTypeTraits {
  TensorType type;
  std::string_view name;  // as ggml spells it: "q4_K", "f16", ...
  int64_t block_size;     // elements per block
  size_t block_bytes;     // bytes per block
};

// Traits of a type id read from a file; nullopt for ids that are unknown or removed.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id);
const TensorTypeTraits& traits(TensorType type);
std::string_view type_name(TensorType type);
std::optional<TensorType> type_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of n elements; throws edgellm::Error when n is not a multiple of the block size.
size_t row_bytes(TensorType type, int64_t n);

// F32, F16 and BF16: the floating-point formats (no blocks, no scales).
constexpr bool is_float_type(TensorType type) {
  return type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16;
}

}  // namespace edgellm
