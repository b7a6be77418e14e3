// The vocabulary as GGUF stores it (tokenizer.ggml.*), shared by the GGUF and tokenizer.json
// loaders, the GGUF writer and the encoders. Internal to src/tokenizer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace edgellm::tok {

// Values of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

enum class VocabModel { kSentencePiece, kByteLevelBpe };  // GGUF "llama" / "gpt2"

struct Vocab {
  VocabModel model = VocabModel::kByteLevelBpe;
  std::string pre = "default";  // pre-tokenizer name (byte-level BPE only)
  std::vector<std::string> tokens;
  std::vector<float> scores;  // SentencePiece merge priorities; empty for BPE
  std::vector<TokenType> types;
  std::vector<std::pair<std::string, std::string>> merges;  // BPE, in rank order

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = true;  // SentencePiece only
  std::string chat_template;

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  // Checks array lengths, duplicate/empty tokens and special ids; throws edgellm::Error naming
  // `origin` (a file name or "tokenizer.json").
  void validate(std::string_view origin) const;
};

// Heterogeneous-lookup hash so string_view keys need no allocation.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

TokenIndex build_token_index(const Vocab& vocab);

// Token texts that conventionally end generation or are control tokens although a converter may
// have typed them as normal (llama.cpp matches these by text as well).
bool is_end_of_generation_text(std::string_view text);
// The converter's heuristic for added tokens that should be control tokens ("<|...|>", ...).
bool looks_like_control_token(std::string_view text);

}  // namespace edgellm::tok
