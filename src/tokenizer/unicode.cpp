#include "tokenizer/unicode.h"

namespace edgellm::unicode {

uint32_t decode_utf8(std::string_view text, size_t pos, size_t* length) {
  *length = 1;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return lead;
  size_t n = 0;
  uint32_t cp = 0;
  uint32_t min_value = 0;
  if (lead >= 0xC2 && lead < 0xE0) {
    n = 2, cp = lead & 0x1Fu, min_value = 0x80;
  } else if (lead >= 0xE0 && lead < 0xF0) {
    n = 3, cp = lead & 0x0Fu, min_value = 0x800;
  } else if (lead >= 0xF0 && lead < 0xF5) {
    n = 4, cp = lead & 0x07u, min_value = 0x10000;
  } else {
    return kInvalid;
  }
  if (pos + n > text.size()) return kInvalid;
  for (size_t i = 1; i < n; ++i) {
    const uint8_t c = byte(pos + i);
    if ((c & 0xC0) != 0x80) return kInvalid;
    cp = (cp << 6) | (c & 0x3Fu);
  }
  if (cp < min_value || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalid;
  *length = n;
  return cp;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// True when bytes[pos..] is a proper prefix of some valid sequence (could still complete).
bool is_unfinished_sequence(std::string_view bytes, size_t pos) {
  const size_t available = bytes.size() - pos;
  const uint8_t lead = static_cast<uint8_t>(bytes[pos]);
  size_t need = 0;
  if (lead >= 0xC2 && lead < 0xE0) need = 2;
  else if (lead >= 0xE0 && lead < 0xF0) need = 3;
  else if (lead >= 0xF0 && lead < 0xF5) need = 4;
  if (need == 0 || available >= need) return false;
  for (size_t i = 1; i < available; ++i) {
    const uint8_t c = static_cast<uint8_t>(bytes[pos + i]);
    if ((c & 0xC0) != 0x80) return false;
    // The second byte narrows what may follow some leads (no overlongs, surrogates, > U+10FFFF).
    if (i == 1) {
      if (lead == 0xE0 && c < 0xA0) return false;
      if (lead == 0xED && c >= 0xA0) return false;
      if (lead == 0xF0 && c < 0x90) return false;
      if (lead == 0xF4 && c >= 0x90) return false;
    }
  }
  return true;
}

}  // namespace

size_t complete_utf8_prefix(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t length = 0;
    if (decode_utf8(bytes, pos, &length) == kInvalid && is_unfinished_sequence(bytes, pos)) {
      return pos;
    }
    pos += length;
  }
  return pos;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t length = 0;
    if (decode_utf8(bytes, pos, &length) == kInvalid) {
      out.append(kReplacementChar);
    } else {
      out.append(bytes.substr(pos, length));
    }
    pos += length;
  }
  return out;
}

namespace {

ByteLevelTable make_byte_level_table() {
  ByteLevelTable table;
  table.code_point_to_byte.fill(-1);
  uint32_t next_extra = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const uint32_t cp = printable ? b : 0x100 + next_extra++;
    table.byte_to_code_point[b] = cp;
    append_utf8(table.byte_to_utf8[b], cp);
    table.code_point_to_byte[cp] = static_cast<int16_t>(b);
  }
  return table;
}

}  // namespace

const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table = make_byte_level_table();
  return table;
}

std::string byte_level_decode(std::string_view mapped) {
  const ByteLevelTable& table = byte_level_table();
  std::string out;
  out.reserve(mapped.size());
  size_t pos = 0;
  while (pos < mapped.size()) {
    size_t length = 0;
    const uint32_t cp = decode_utf8(mapped, pos, &length);
    if (cp != kInvalid && cp < table.code_point_to_byte.size() && table.code_point_to_byte[cp] >= 0) {
      out.push_back(static_cast<char>(table.code_point_to_byte[cp]));
    } else {
      out.append(mapped.substr(pos, length));
    }
    pos += length;
  }
  return out;
}

std::string byte_level_encode(std::string_view bytes) {
  const ByteLevelTable& table = byte_level_table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) out.append(table.byte_to_utf8[static_cast<uint8_t>(c)]);
  return out;
}

}  // namespace edgellm::unicode
