// Pre-tokenization of byte-level BPE families: each `pre` name (tokenizer.ggml.pre) selects a list
// of regexes applied in sequence, as llama.cpp does. Every regex splits each current piece into
// its matches and the text between them (both kept), so later regexes refine earlier pieces.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace edgellm::tok {

struct PreTokenizerSpec {
  std::vector<std::string_view> names;    // tokenizer.ggml.pre values; names[0] is canonical
  std::vector<std::string_view> regexes;  // applied in order (PCRE2 syntax)
  bool ignore_merges = false;             // a piece that is itself a token is not merged (Llama 3)
};

// Throws edgellm::Error listing the supported names when `name` is unknown.
const PreTokenizerSpec& find_pre_tokenizer(std::string_view name);
std::string supported_pre_tokenizer_names();

// Maps a Hugging Face tokenizer.json "pre_tokenizer" object to a `pre` name by its regexes
// (the way llama.cpp's converter recognises families). Throws when the configuration is unknown.
std::string detect_pre_tokenizer(const nlohmann::json& pre_tokenizer);

struct TextPiece {
  size_t offset;
  size_t length;
};
using PieceCallback = std::function<void(size_t offset, size_t length)>;

// Receives split()'s pieces depth-first, in text order. What the later regexes make of a piece
// depends only on its bytes and the regex that made it, so a sink that has seen a piece before
// may skip refining it again.
class PieceSink {
 public:
  enum class Visit { kSplit, kSplitThenLeave, kSkip };
  virtual ~PieceSink() = default;
  // Every piece regex number `level` makes, before the later regexes refine it (a piece that is
  // all of the piece it came from is not reported again). kSkip: the sink handled the piece
  // itself; kSplitThenLeave: call leave() once the piece's final pieces are out.
  virtual Visit enter(size_t /*level*/, size_t /*offset*/, size_t /*length*/) { return Visit::kSplit; }
  virtual void leave(size_t /*offset*/, size_t /*length*/) {}
  virtual void piece(size_t offset, size_t length) = 0;  // a final piece
};

// Compiled regexes of one spec (PCRE2, UTF + Unicode properties, JIT). Thread-safe to use
// concurrently: match state is per call.
class RegexSplitter {
 public:
  explicit RegexSplitter(const PreTokenizerSpec& spec);
  RegexSplitter(RegexSplitter&&) noexcept;
  RegexSplitter& operator=(RegexSplitter&&) noexcept;
  ~RegexSplitter();

  // Calls emit(offset, length) for each piece of `text` in order. Invalid UTF-8 never matches,
  // so it ends up in the between-match pieces and is still tokenized byte by byte.
  void split(std::string_view text, PieceSink& sink) const;
  void split(std::string_view text, const PieceCallback& emit) const;
  // Appends the pieces (offsets relative to text) to `out`.
  void split(std::string_view text, std::vector<TextPiece>& out) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Rewrites \s and \S to Unicode White_Space (what Hugging Face and llama.cpp mean by \s);
// PCRE2's own \s also matches U+180E. Exposed for tests.
std::string with_unicode_whitespace(std::string_view regex);

}  // namespace edgellm::tok
