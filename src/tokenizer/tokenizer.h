// Text <-> token ids, identical to the reference implementations (Hugging Face tokenizers and
// llama.cpp) for SentencePiece-style ("llama") and byte-level BPE ("gpt2") vocabularies.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgellm::gguf {
class GgufFile;
class GgufWriter;
}  // namespace edgellm::gguf

namespace edgellm {

class Tokenizer {
 public:
  // From a GGUF's tokenizer.ggml.* metadata.
  static Tokenizer from_gguf(const gguf::GgufFile& file);
  // From Hugging Face files; tokenizer_config_json may be empty (no chat template, defaults).
  static Tokenizer from_hf_files(const std::string& tokenizer_json,
                                 const std::string& tokenizer_config_json);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // add_special: BOS/EOS as the model's metadata says. parse_special: text like "<|im_end|>"
  // becomes that special token; otherwise it is tokenized as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_special = true,
                              bool parse_special = false) const;
  // Raw bytes of one token (may be part of a UTF-8 character). Throws on an unknown id.
  std::string token_to_piece(int32_t id) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 when absent
  int32_t eos_id() const;
  bool is_end_of_generation(int32_t id) const;  // EOS, EOT, <|im_end|>, ...
  const std::string& chat_template() const;     // empty when the model has none

  // Writes the tokenizer.ggml.* keys (and tokenizer.chat_template) exactly as llama.cpp's
  // converter does.
  void write_gguf_metadata(gguf::GgufWriter& writer) const;

  // Vocabulary string of a token as stored (byte-level or U+2581-escaped text, "<0x0A>", ...);
  // throws on an unknown id.
  const std::string& token_text(int32_t id) const;
  // Id of the token whose vocabulary string is exactly `text`, or -1.
  int32_t token_id(std::string_view text) const;
  // Control and unknown tokens: never produced from plain text, hidden by decode(skip_special).
  bool is_special(int32_t id) const;
  bool add_bos() const;
  bool add_eos() const;
  const char* model_name() const;       // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  const std::string& pre_name() const;  // pre-tokenizer family, e.g. "qwen2"
  // Grows the vocabulary to n tokens with "[PAD<id>]" unused tokens, as the converter does when
  // the model's embedding has more rows than the tokenizer has tokens. No-op when n <= n_vocab().
  void pad_vocab_to(int32_t n);

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Streaming detokenizer: returns only complete UTF-8 characters, holding partial bytes back.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  std::string push(int32_t id);
  std::string flush();  // whatever is held back (invalid bytes become U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
};

}  // namespace edgellm
