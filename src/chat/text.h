// Text helpers for the Jinja interpreter: Python's string semantics over UTF-8 bytes.
// Python indexes strings by code point, prints floats with the shortest round-trip repr and
// quotes strings in repr() its own way; templates observe all of that, so we reproduce it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edgellm::chat::jinja {

// Decodes UTF-8 into code points. A byte that is not part of a valid sequence becomes
// 0xDC00 + byte (like Python's surrogateescape), and encode_utf8 turns it back into the byte,
// so malformed input round-trips instead of crashing.
std::u32string decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t cp);
std::string encode_utf8(std::u32string_view cps);
bool is_ascii(std::string_view text);
size_t count_code_points(std::string_view text);
// Byte offset of the first invalid UTF-8 sequence, or npos when the text is valid.
size_t find_invalid_utf8(std::string_view text);

// Python str.isspace() for one code point.
bool is_py_space(char32_t cp);
std::string_view py_rstrip(std::string_view text);  // Python str.rstrip() with no argument
std::string_view py_lstrip(std::string_view text);
std::string_view py_strip(std::string_view text);

// Python str.upper()/lower() for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
// Other scripts pass through unchanged.
std::string py_upper(std::string_view text);
std::string py_lower(std::string_view text);
char32_t lower_cp(char32_t cp);
char32_t upper_cp(char32_t cp);
bool is_cased_letter(char32_t cp);  // has an upper/lower mapping in the tables above
bool is_word_char(char32_t cp);     // regex \w: letters, digits, underscore (non-ASCII: letters)

// Python repr() of a str: single quotes unless the text has ' and no ".
std::string py_repr_string(std::string_view text);
// Python repr() of a float: shortest round-trip digits, 'inf', 'nan', '1e+16', '0.0001'.
std::string py_float_repr(double value);

}  // namespace edgellm::chat::jinja
