#include "gguf/tensor_type.h"

#include <array>
#include <cctype>

#include "core/error.h"

namespace edgellm {
namespace {

constexpr size_t kQK = 256;  // super-block of the K and most IQ formats

constexpr std::array kTraits = {
    TensorTypeTraits{TensorType::F32, "f32", 1, 4},
    TensorTypeTraits{TensorType::F16, "f16", 1, 2},
    TensorTypeTraits{TensorType::Q4_0, "q4_0", 32, 2 + 16},
    TensorTypeTraits{TensorType::Q4_1, "q4_1", 32, 2 + 2 + 16},
    TensorTypeTraits{TensorType::Q5_0, "q5_0", 32, 2 + 4 + 16},
    TensorTypeTraits{TensorType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16},
    TensorTypeTraits{TensorType::Q8_0, "q8_0", 32, 2 + 32},
    TensorTypeTraits{TensorType::Q8_1, "q8_1", 32, 2 + 2 + 32},
    TensorTypeTraits{TensorType::Q2_K, "q2_K", kQK, kQK / 16 + kQK / 4 + 2 + 2},
    TensorTypeTraits{TensorType::Q3_K, "q3_K", kQK, kQK / 8 + kQK / 4 + 12 + 2},
    TensorTypeTraits{TensorType::Q4_K, "q4_K", kQK, 2 + 2 + 12 + kQK / 2},
    TensorTypeTraits{TensorType::Q5_K, "q5_K", kQK, 2 + 2 + 12 + kQK / 8 + kQK / 2},
    TensorTypeTraits{TensorType::Q6_K, "q6_K", kQK, kQK / 2 + kQK / 4 + kQK / 16 + 2},
    TensorTypeTraits{TensorType::Q8_K, "q8_K", kQK, 4 + kQK + kQK / 16 * 2},
    TensorTypeTraits{TensorType::IQ2_XXS, "iq2_xxs", kQK, 2 + kQK / 8 * 2},
    TensorTypeTraits{TensorType::IQ2_XS, "iq2_xs", kQK, 2 + kQK / 8 * 2 + kQK / 32},
    TensorTypeTraits{TensorType::IQ3_XXS, "iq3_xxs", kQK, 2 + 3 * kQK / 8},
    TensorTypeTraits{TensorType::IQ1_S, "iq1_s", kQK, 2 + kQK / 8 + kQK / 16},
    TensorTypeTraits{TensorType::IQ4_NL, "iq4_nl", 32, 2 + 16},
    TensorTypeTraits{TensorType::IQ3_S, "iq3_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 8 + kQK / 64},
    TensorTypeTraits{TensorType::IQ2_S, "iq2_s", kQK, 2 + kQK / 4 + kQK / 16},
    TensorTypeTraits{TensorType::IQ4_XS, "iq4_xs", kQK, 2 + 2 + kQK / 64 + kQK / 2},
    TensorTypeTraits{TensorType::I8, "i8", 1, 1},
    TensorTypeTraits{TensorType::I16, "i16", 1, 2},
    TensorTypeTraits{TensorType::I32, "i32", 1, 4},
    TensorTypeTraits{TensorType::I64, "i64", 1, 8},
    TensorTypeTraits{TensorType::F64, "f64", 1, 8},
    TensorTypeTraits{TensorType::IQ1_M, "iq1_m", kQK, kQK / 8 + kQK / 16 + kQK / 32},
    TensorTypeTraits{TensorType::BF16, "bf16", 1, 2},
    TensorTypeTraits{TensorType::TQ1_0, "tq1_0", kQK, 2 + (kQK - 4 * kQK / 64) / 5 + kQK / 64},
    TensorTypeTraits{TensorType::TQ2_0, "tq2_0", kQK, 2 + kQK / 4},
};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t id) {
  for (const auto& t : kTraits)
    if (static_cast<uint32_t>(t.type) == id) return t;
  return std::nullopt;
}

const TensorTypeTraits& traits(TensorType type) {
  for (const auto& t : kTraits)
    if (t.type == type) return t;
  fail("unknown tensor type id {}", static_cast<uint32_t>(type));
}

std::string_view type_name(TensorType type) { return traits(type).name; }

std::optional<TensorType> type_from_name(std::string_view name) {
  for (const auto& t : kTraits) {
    if (t.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(t.name[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return t.type;
  }
  return std::nullopt;
}

size_t row_bytes(TensorType type, int64_t n) {
  const auto& t = traits(type);
  if (n < 0 || n % t.block_size != 0)
    fail("a row of {} elements is not a multiple of the {} block size {}", n, t.name, t.block_size);
  return static_cast<size_t>(n / t.block_size) * t.block_bytes;
}

}  // namespace edgellm
