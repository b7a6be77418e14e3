// Constants of the GGUF container shared by the reader and the writer (internal to src/gguf).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace edgellm::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kWriteVersion = 3;
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
inline constexpr size_t kMaxTensorNameBytes = 63;  // ggml keeps names in char[64]
// Arrays may hold arrays; deeper nesting than this is rejected (no real file nests at all, and
// the bound keeps the recursive reader's stack small).
inline constexpr int kMaxArrayDepth = 8;
// Total metadata values (array items included) a file may hold; real vocabularies need ~1M.
inline constexpr uint64_t kMaxMetadataValues = uint64_t{1} << 24;
// Smallest encodings, used to bound untrusted counts by the bytes that remain.
inline constexpr size_t kMinKeyValueBytes = 8 + 1 + 4 + 1;   // key length, 1-byte key, type, u8
inline constexpr size_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, 1 dim, type, offset

}  // namespace edgellm::gguf
