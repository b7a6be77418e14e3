// GGUF <-> Vocab, with the key names, types and defaults of llama.cpp (llama-vocab.cpp) and its
// converter (convert_hf_to_gguf.py / gguf-py).
#include <cstdio>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab_io.h"

namespace edgellm::tok {

namespace key = gguf::key;

namespace {

constexpr std::string_view kOrigin = "GGUF tokenizer metadata";

void warn(std::string_view message) { fmt::print(stderr, "edgellm: warning: {}\n", message); }

// Special ids: an absent key keeps the model's default; an id outside the vocabulary is ignored
// with a warning (some published files carry wrong ids, llama.cpp tolerates them the same way).
int32_t read_special_id(const gguf::GgufFile& file, std::string_view name, int32_t fallback, int32_t n_tokens) {
  if (fallback >= n_tokens) fallback = -1;
  if (file.find(name) == nullptr) return fallback;
  const int64_t id = file.get_int(name);
  if (id < 0 || id >= n_tokens) {
    warn(fmt::format("{} = {} is outside the vocabulary of {} tokens; ignored", name, id, n_tokens));
    return fallback;
  }
  return static_cast<int32_t>(id);
}

std::vector<std::pair<std::string, std::string>> parse_merges(const std::vector<std::string>& lines) {
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    // The first part is never empty, so the separator is the first space after position 0.
    const size_t space = line.size() > 1 ? line.find(' ', 1) : std::string::npos;
    if (space == std::string::npos || space + 1 >= line.size()) {
      fail("{}: merge {} ({:?}) is not two space-separated parts", key::kTokenizerMerges, i, line);
    }
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return merges;
}

}  // namespace

Vocab load_vocab_from_gguf(const gguf::GgufFile& file) {
  Vocab vocab;
  if (file.find(key::kTokenizerModel) == nullptr) fail("GGUF has no {}: no tokenizer", key::kTokenizerModel);
  const std::string model = file.get_string(key::kTokenizerModel);
  if (model == "llama") {
    vocab.model = VocabModel::kSentencePiece;
  } else if (model == "gpt2") {
    vocab.model = VocabModel::kByteLevelBpe;
  } else {
    fail("{} = {:?} is not supported (supported: llama, gpt2)", key::kTokenizerModel, model);
  }
  if (file.find(key::kTokenizerTokens) == nullptr) fail("GGUF has no {}", key::kTokenizerTokens);
  vocab.tokens = file.get_string_array(key::kTokenizerTokens);
  const auto n = vocab.tokens.size();
  if (n == 0 || n > static_cast<size_t>(INT32_MAX)) fail("{} has {} entries", key::kTokenizerTokens, n);
  for (size_t i = 0; i < n; ++i) {
    if (vocab.tokens[i].empty()) vocab.tokens[i] = fmt::format("[EMPTY_{}]", i);  // as llama.cpp
  }

  if (file.find(key::kTokenizerScores) != nullptr) {
    vocab.scores = file.get_float_array(key::kTokenizerScores);
    if (vocab.scores.size() != n) {
      fail("{} has {} entries but {} has {}", key::kTokenizerScores, vocab.scores.size(), key::kTokenizerTokens, n);
    }
  } else if (vocab.model == VocabModel::kSentencePiece) {
    vocab.scores.assign(n, 0.0f);
  }

  if (file.find(key::kTokenizerTokenType) != nullptr) {
    const std::vector<int64_t> types = file.get_int_array(key::kTokenizerTokenType);
    if (types.size() != n) {
      fail("{} has {} entries but {} has {}", key::kTokenizerTokenType, types.size(), key::kTokenizerTokens, n);
    }
    vocab.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > 6) fail("{}[{}] = {} is not a token type", key::kTokenizerTokenType, i, types[i]);
      vocab.types.push_back(static_cast<TokenType>(types[i]));
    }
  } else {
    vocab.types.assign(n, TokenType::kNormal);
  }

  const auto n_tokens = static_cast<int32_t>(n);
  if (vocab.model == VocabModel::kByteLevelBpe) {
    if (file.find(key::kTokenizerMerges) == nullptr) fail("byte-level BPE GGUF has no {}", key::kTokenizerMerges);
    vocab.merges = parse_merges(file.get_string_array(key::kTokenizerMerges));
    vocab.pre = file.get_string_or(key::kTokenizerPre, "");
    if (vocab.pre.empty()) {
      warn(fmt::format("{} is missing; using the 'default' pre-tokenizer (tokenization may differ "
                       "from the model's)", key::kTokenizerPre));
      vocab.pre = "default";
    }
    const PreTokenizerSpec& spec = find_pre_tokenizer(vocab.pre);  // throws on unknown names
    vocab.add_bos = spec.ignore_merges;  // llama.cpp: Llama 3 family adds BOS by default
    vocab.add_space_prefix = false;
    vocab.bos_id = read_special_id(file, key::kTokenizerBosId, -1, n_tokens);
    vocab.eos_id = read_special_id(file, key::kTokenizerEosId, -1, n_tokens);
    vocab.unk_id = read_special_id(file, key::kTokenizerUnknownId, -1, n_tokens);
  } else {
    vocab.pre = "default";
    vocab.add_bos = true;
    vocab.add_space_prefix = file.get_bool_or(key::kTokenizerAddSpacePrefix, true);
    vocab.bos_id = read_special_id(file, key::kTokenizerBosId, 1, n_tokens);
    vocab.eos_id = read_special_id(file, key::kTokenizerEosId, 2, n_tokens);
    vocab.unk_id = read_special_id(file, key::kTokenizerUnknownId, 0, n_tokens);
  }
  vocab.pad_id = read_special_id(file, key::kTokenizerPaddingId, -1, n_tokens);
  vocab.eot_id = read_special_id(file, key::kTokenizerEotId, -1, n_tokens);
  vocab.eom_id = read_special_id(file, key::kTokenizerEomId, -1, n_tokens);
  vocab.add_bos = file.get_bool_or(key::kTokenizerAddBos, vocab.add_bos);
  vocab.add_eos = file.get_bool_or(key::kTokenizerAddEos, vocab.add_eos);
  vocab.chat_template = file.get_string_or(key::kChatTemplate, "");
  vocab.validate(kOrigin);
  return vocab;
}

void write_vocab_to_gguf(const Vocab& vocab, gguf::GgufWriter& writer) {
  const bool spm = vocab.model == VocabModel::kSentencePiece;
  writer.set_string(key::kTokenizerModel, spm ? "llama" : "gpt2");
  writer.set_string(key::kTokenizerPre, vocab.pre);
  writer.set_string_array(key::kTokenizerTokens, vocab.tokens);
  if (spm) writer.set_f32_array(key::kTokenizerScores, vocab.scores);
  std::vector<int32_t> types;
  types.reserve(vocab.types.size());
  for (const TokenType t : vocab.types) types.push_back(static_cast<int32_t>(t));
  writer.set_i32_array(key::kTokenizerTokenType, types);
  if (!spm) {
    std::vector<std::string> merges;
    merges.reserve(vocab.merges.size());
    for (const auto& [left, right] : vocab.merges) merges.push_back(left + " " + right);
    writer.set_string_array(key::kTokenizerMerges, merges);
  }
  const auto set_id = [&](std::string_view name, int32_t id) {
    if (id >= 0) writer.set_u32(name, static_cast<uint32_t>(id));
  };
  set_id(key::kTokenizerBosId, vocab.bos_id);
  set_id(key::kTokenizerEosId, vocab.eos_id);
  set_id(key::kTokenizerUnknownId, vocab.unk_id);
  set_id(key::kTokenizerPaddingId, vocab.pad_id);
  set_id(key::kTokenizerEotId, vocab.eot_id);
  set_id(key::kTokenizerEomId, vocab.eom_id);
  writer.set_bool(key::kTokenizerAddBos, vocab.add_bos);
  writer.set_bool(key::kTokenizerAddEos, vocab.add_eos);
  if (spm && !vocab.add_space_prefix) writer.set_bool(key::kTokenizerAddSpacePrefix, false);
  if (!vocab.chat_template.empty()) writer.set_string(key::kChatTemplate, vocab.chat_template);
}

}  // namespace edgellm::tok
