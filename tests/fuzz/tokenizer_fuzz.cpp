// libFuzzer target for the tokenizer. The first byte picks a mode:
//  - even: the rest is text for synthetic vocabularies of every supported byte-level `pre`
//    family and a SentencePiece one; encoding must not fail and decoding must give the text
//    back exactly (an oracle for the pre-tokenizers, merges, special-token splitting, decoding);
//  - odd: the rest is a tokenizer.json; loading either throws edgellm::Error or gives a
//    tokenizer that encodes and decodes text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using namespace edgellm;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string byte_level_json() {
  nlohmann::json vocab = nlohmann::json::object();
  const auto& table = unicode::byte_level_table();
  for (int b = 0; b < 256; ++b) vocab[table.byte_to_utf8[b]] = b;
  nlohmann::json merges = nlohmann::json::array();
  int id = 256;
  for (const char* pair : {"t h", "th e", "\xc4\xa0 t", "\xc4\xa0t he", "i n", "e r", "\xc4\xa0 \xc4\xa0", "1 2",
                           "\xc3\xa4 \xc2\xbd", "\xc3\xa4\xc2\xbd \xc2\xa0"}) {
    merges.push_back(pair);
    std::string joined = pair;
    joined.erase(joined.find(' '), 1);
    if (!vocab.contains(joined)) vocab[joined] = id++;
  }
  nlohmann::json added = nlohmann::json::array();
  added.push_back({{"id", id}, {"content", "<|endoftext|>"}, {"special", true}});
  added.push_back({{"id", id + 1}, {"content", "<tool>"}, {"special", false}});
  return nlohmann::json{{"added_tokens", added},
                        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
                        {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}}
      .dump();
}

std::string sentencepiece_json() {
  const std::string m = "\xe2\x96\x81";
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  int id = 3;
  for (int b = 0; b < 256; ++b) vocab[fmt::format("<0x{:02X}>", b)] = id++;
  for (const std::string& c : {m, std::string("a"), std::string("b"), m + "a", std::string("ab"), m + m}) vocab[c] = id++;
  return nlohmann::json{
      {"added_tokens", {{{"id", 0}, {"content", "<unk>"}, {"special", true}}, {{"id", 1}, {"content", "<s>"}, {"special", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", m}}, {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", m}}}}}},
      {"model",
       {{"type", "BPE"}, {"unk_token", "<unk>"}, {"byte_fallback", true}, {"vocab", vocab},
        {"merges", {m + " a", "a b", m + " " + m}}}}}
      .dump();
}

struct Tokenizers {
  std::vector<Tokenizer> byte_level;
  std::vector<Tokenizer> sentencepiece;
};

// One synthetic byte-level vocabulary under every `pre` family (set through GGUF metadata).
const Tokenizers& tokenizers() {
  static const Tokenizers all = [] {
    Tokenizers t;
    const Tokenizer base = Tokenizer::from_hf_files(byte_level_json(), "");
    for (const char* pre : {"default", "gpt-2", "llama-bpe", "dbrx", "qwen2", "deepseek-llm", "deepseek-coder",
                            "deepseek-v3", "falcon", "starcoder", "bloom"}) {
      gguf::GgufWriter writer;
      base.write_gguf_metadata(writer);
      writer.set_string(gguf::key::kTokenizerPre, pre);
      const std::vector<uint8_t> bytes = writer.write_buffer();
      t.byte_level.push_back(Tokenizer::from_gguf(gguf::GgufFile::from_buffer(bytes)));
    }
    t.sentencepiece.push_back(Tokenizer::from_hf_files(sentencepiece_json(), ""));
    return t;
  }();
  return all;
}

void fuzz_text(const std::string& text, bool parse_special) {
  for (const Tokenizer& t : tokenizers().byte_level) {
    check(t.decode(t.encode(text, true, parse_special)) == text);
  }
  // SentencePiece cannot tell a literal U+2581 from an escaped space; otherwise exact.
  if (text.find("\xe2\x96\x81") != std::string::npos) return;
  for (const Tokenizer& t : tokenizers().sentencepiece) {
    check(t.decode(t.encode(text, true, false), true) == text);
    StreamDecoder stream(t);
    std::string streamed;
    for (const int32_t id : t.encode(text, false, false)) streamed += stream.push(id);
    streamed += stream.flush();
    check(streamed == (text.empty() ? std::string() : unicode::sanitize_utf8(" " + text)));
  }
}

void fuzz_json(const std::string& json) {
  try {
    const Tokenizer t = Tokenizer::from_hf_files(json, "");
    const std::string sample = "Hello world 123 \xe4\xbd\xa0\xe5\xa5\xbd <|endoftext|>";
    const std::vector<int32_t> ids = t.encode(sample, true, true);
    for (const int32_t id : ids) check(id >= 0 && id < t.n_vocab());
    (void)t.decode(ids);
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzz_text(rest, (data[0] & 2) != 0);
  } else {
    fuzz_json(rest);
  }
  return 0;
}
