// UTF-8 helpers and the GPT-2 byte <-> character table used by byte-level BPE vocabularies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace edgellm::unicode {

inline constexpr uint32_t kInvalid = 0xFFFFFFFF;
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD
inline constexpr std::string_view kMetaspace = "\xE2\x96\x81";       // U+2581 "▁"

// Length of the sequence a lead byte announces (1 for ASCII and for bytes that cannot lead).
inline size_t utf8_sequence_length(uint8_t lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF8) return 4;
  return 1;
}

// Decodes the code point starting at text[pos]; on success stores its byte length in *length.
// Returns kInvalid (and *length = 1) for a malformed, overlong, surrogate or truncated sequence.
uint32_t decode_utf8(std::string_view text, size_t pos, size_t* length);

void append_utf8(std::string& out, uint32_t code_point);

// Number of leading bytes of `bytes` that form complete, valid UTF-8 characters, stopping early
// only at a *valid but unfinished* sequence at the very end (more bytes may complete it).
// Invalid bytes in the middle count as consumed (the caller replaces them).
size_t complete_utf8_prefix(std::string_view bytes);

// Copies `bytes`, replacing every invalid byte with U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

// GPT-2's reversible byte -> printable character mapping (bytes that are printable Latin-1 map
// to themselves, the rest to U+0100 + n in byte order).
struct ByteLevelTable {
  std::array<uint32_t, 256> byte_to_code_point{};
  std::array<std::string, 256> byte_to_utf8{};
  // Reverse map for code points below 0x200; -1 where no byte maps there.
  std::array<int16_t, 0x200> code_point_to_byte{};
};
const ByteLevelTable& byte_level_table();

// Reverses the byte-level mapping of one vocabulary string. Characters outside the table are
// kept as their UTF-8 bytes (a byte-level vocabulary should not contain any).
std::string byte_level_decode(std::string_view mapped);

// Forward mapping of raw bytes to their byte-level characters.
std::string byte_level_encode(std::string_view bytes);

}  // namespace edgellm::unicode
