#include "tokenizer/vocab.h"

#include <array>

#include "core/error.h"

namespace edgellm::tok {

void Vocab::validate(std::string_view origin) const {
  if (tokens.empty()) fail("{}: the vocabulary has no tokens", origin);
  if (types.size() != tokens.size()) {
    fail("{}: {} token types for {} tokens", origin, types.size(), tokens.size());
  }
  if (model == VocabModel::kSentencePiece && scores.size() != tokens.size()) {
    fail("{}: {} scores for {} tokens", origin, scores.size(), tokens.size());
  }
  if (model == VocabModel::kByteLevelBpe && merges.empty()) {
    fail("{}: byte-level BPE vocabulary without merges", origin);
  }
  const std::array<std::pair<std::string_view, int32_t>, 6> ids = {{
      {"bos", bos_id}, {"eos", eos_id}, {"unk", unk_id},
      {"padding", pad_id}, {"eot", eot_id}, {"eom", eom_id}}};
  for (const auto& [name, id] : ids) {
    if (id < -1 || id >= size()) fail("{}: {} token id {} is outside the vocabulary of {}", origin, name, id, size());
  }
  if (add_bos && bos_id < 0) fail("{}: add_bos_token is set but there is no BOS token", origin);
  if (add_eos && eos_id < 0) fail("{}: add_eos_token is set but there is no EOS token", origin);
  for (size_t i = 0; i < types.size(); ++i) {
    const auto t = static_cast<int32_t>(types[i]);
    if (t < 0 || t > 6) fail("{}: token {} has unknown token type {}", origin, i, t);
  }
}

TokenIndex build_token_index(const Vocab& vocab) {
  TokenIndex index;
  index.reserve(vocab.tokens.size());
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const auto [it, inserted] = index.emplace(vocab.tokens[id], id);
    if (!inserted) {
      fail("duplicate token {:?} in the vocabulary (ids {} and {})", vocab.tokens[id], it->second, id);
    }
  }
  return index;
}

bool is_end_of_generation_text(std::string_view text) {
  static constexpr std::array<std::string_view, 16> kTexts = {
      "<|eot_id|>",     "<|im_end|>",        "<|end|>",       "<end_of_turn>",
      "<|endoftext|>",  "<|eom_id|>",        "<EOT>",         "_<EOT>",
      "<|end_of_text|>", "<end_of_utterance>",
      "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",  // DeepSeek
      "<|fim_pad|>",    "<|repo_name|>",     "<|file_sep|>",  "<|return|>",
      "<|call|>"};
  for (const auto t : kTexts) {
    if (t == text) return true;
  }
  return false;
}

bool looks_like_control_token(std::string_view text) {
  if (text == "<pad>" || text == "<mask>" || text == "<2mass>" || text == "[@BOS@]") return true;
  const auto wrapped = [&](std::string_view open, std::string_view close) {
    return text.size() >= open.size() + close.size() && text.starts_with(open) && text.ends_with(close);
  };
  return wrapped("<|", "|>") || wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

}  // namespace edgellm::tok
