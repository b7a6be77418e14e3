// Helpers shared by the tokenizer tests: small synthetic vocabularies (as tokenizer.json text),
// deterministic random Unicode text, llama.cpp's vocab-test file format, GGUF round trips.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "tokenizer/unicode.h"

namespace edgellm::test {

inline std::string utf8(uint32_t cp) {
  std::string s;
  unicode::append_utf8(s, cp);
  return s;
}

// Byte-level BPE: tokens 0..255 are the 256 byte characters (id == byte), then one token per
// merge in order, then the added tokens. `pre_tokenizer` is the tokenizer.json object.
inline std::string byte_level_tokenizer_json(const std::vector<std::pair<std::string, std::string>>& merges,
                                             const nlohmann::json& pre_tokenizer) {
  nlohmann::json vocab = nlohmann::json::object();
  const auto& table = unicode::byte_level_table();
  for (int b = 0; b < 256; ++b) vocab[table.byte_to_utf8[b]] = b;
  nlohmann::json merge_list = nlohmann::json::array();
  int next_id = 256;
  for (const auto& [l, r] : merges) {
    const std::string left = unicode::byte_level_encode(l);
    const std::string right = unicode::byte_level_encode(r);
    merge_list.push_back(left + " " + right);
    if (!vocab.contains(left + right)) vocab[left + right] = next_id++;
  }
  nlohmann::json added = nlohmann::json::array();
  added.push_back({{"id", next_id}, {"content", "<|endoftext|>"}, {"special", true}});
  added.push_back({{"id", next_id + 1}, {"content", "<tool>"}, {"special", false}});
  return nlohmann::json{{"version", "1.0"},
                        {"added_tokens", added},
                        {"pre_tokenizer", pre_tokenizer},
                        {"decoder", {{"type", "ByteLevel"}}},
                        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}}}}
      .dump();
}

inline nlohmann::json gpt2_pre_tokenizer() {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
}

// The merges of the synthetic byte-level vocabulary (raw text; spaces are real spaces).
inline std::vector<std::pair<std::string, std::string>> synthetic_merges() {
  return {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"i", "n"}, {" ", "a"},   {"e", "r"},  {"o", "n"},
          {" ", "s"}, {"a", "t"}, {"e", "n"},   {"o", "r"}, {" ", " "},   {"  ", "  "}, {"1", "2"},
          {"\xe4", "\xbd"}, {"\xe4\xbd", "\xa0"}, {"\xe5", "\xa5"}, {"\xe5\xa5", "\xbd"},
          {"\xe4\xbd\xa0", "\xe5\xa5\xbd"}};
}

// SentencePiece-style BPE with byte fallback: <unk> <s> </s>, <0x00>..<0xFF>, then characters,
// then one token per merge.
inline std::string sentencepiece_tokenizer_json() {
  const std::string m = std::string(unicode::kMetaspace);
  nlohmann::json vocab = nlohmann::json::object();
  int id = 0;
  for (const char* t : {"<unk>", "<s>", "</s>"}) vocab[t] = id++;
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = id++;
  for (const std::string& c : {m, std::string("a"), std::string("b"), std::string("c"), std::string("d"),
                              std::string("e"), std::string("."), std::string("\xc3\xa9")}) {
    vocab[c] = id++;
  }
  const std::vector<std::pair<std::string, std::string>> merges = {
      {m, "a"}, {"b", "c"}, {m + "a", "bc"}, {"d", "e"}, {m, "de"}, {"a", "b"}, {m, m}, {"e", "."}};
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [l, r] : merges) {
    merge_list.push_back(l + " " + r);
    if (!vocab.contains(l + r)) vocab[l + r] = id++;
  }
  nlohmann::json added = nlohmann::json::array();
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", i}, {"content", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>"}, {"special", true}});
  }
  nlohmann::json normalizer = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", m}}, {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", m}}}}};
  return nlohmann::json{
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", normalizer},
      {"pre_tokenizer", nullptr},
      {"decoder", {{"type", "Sequence"}, {"decoders", nlohmann::json::array()}}},
      {"model",
       {{"type", "BPE"}, {"unk_token", "<unk>"}, {"byte_fallback", true}, {"vocab", vocab}, {"merges", merge_list}}}}
      .dump();
}

inline std::string sentencepiece_config_json() {
  return R"({"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>",
             "unk_token": "<unk>", "chat_template": "{{ messages }}"})";
}

// Random text mixing scripts, digits, punctuation, unusual spaces, emoji and combining marks.
inline std::string random_unicode_text(std::mt19937& rng, size_t n_chars) {
  static const std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0x20, 0x7E},     {0x20, 0x7E},     {0x20, 0x7E},   {0x41, 0x5A},   {0x61, 0x7A},    {0x61, 0x7A},
      {0x30, 0x39},     {0x09, 0x0D},     {0xA0, 0xFF},   {0x100, 0x17F}, {0x391, 0x3C9},  {0x410, 0x44F},
      {0x300, 0x36F},   {0x5D0, 0x5EA},   {0x620, 0x64A}, {0x900, 0x97F}, {0xE00, 0xE5B},  {0x3040, 0x30FF},
      {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0x2000, 0x206F}, {0x3000, 0x3003}, {0xFF01, 0xFF5E},
      {0x1F300, 0x1F6FF}, {0x1F900, 0x1F9FF}, {0x180E, 0x180E}, {0x85, 0x85}, {0x200D, 0x200D},
      {0x10000, 0x1000F}, {0x1D400, 0x1D4FF}};
  std::uniform_int_distribution<size_t> pick_range(0, ranges.size() - 1);
  std::string out;
  for (size_t i = 0; i < n_chars; ++i) {
    const auto [lo, hi] = ranges[pick_range(rng)];
    out += utf8(std::uniform_int_distribution<uint32_t>(lo, hi)(rng));
  }
  return out;
}

inline std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
  return out;
}

// llama.cpp vocab-test files: cases split by "\n__ggml_vocab_test__\n"; one line of ids each.
inline std::vector<std::string> read_vocab_test_cases(const std::string& path) {
  const std::string text = read_file_bytes(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t start = 0;
  for (size_t at = text.find(separator); at != std::string::npos; at = text.find(separator, start)) {
    cases.push_back(text.substr(start, at - start));
    start = at + separator.size();
  }
  cases.push_back(text.substr(start));
  return cases;
}

inline std::vector<std::vector<int32_t>> read_expected_ids(const std::string& path) {
  const std::string text = read_file_bytes(path);
  std::vector<std::vector<int32_t>> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::vector<int32_t> ids;
    size_t pos = start;
    while (pos < end) {
      while (pos < end && text[pos] == ' ') ++pos;
      if (pos >= end) break;
      size_t stop = pos;
      while (stop < end && text[stop] != ' ') ++stop;
      ids.push_back(std::stoi(text.substr(pos, stop - pos)));
      pos = stop;
    }
    lines.push_back(std::move(ids));
    if (end == text.size()) break;
    start = end + 1;
  }
  return lines;
}

// Writes the tokenizer's metadata into an in-memory GGUF and loads it back from there.
struct GgufRoundTrip {
  std::vector<uint8_t> bytes;
  gguf::GgufFile file;
  Tokenizer tokenizer;
  explicit GgufRoundTrip(const Tokenizer& source)
      : bytes(serialize(source)), file(gguf::GgufFile::from_buffer(bytes)), tokenizer(Tokenizer::from_gguf(file)) {}
  static std::vector<uint8_t> serialize(const Tokenizer& source) {
    gguf::GgufWriter writer;
    writer.set_string("general.architecture", "llama");
    source.write_gguf_metadata(writer);
    return writer.write_buffer();
  }
};

}  // namespace edgellm::test
