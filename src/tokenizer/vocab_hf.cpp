// Hugging Face tokenizer.json (+ tokenizer_config.json) -> Vocab, making the same decisions as
// llama.cpp's converter: token types, special ids, add_bos/add_eos, `pre` family, chat template.
#include <algorithm>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_io.h"

namespace edgellm::tok {

using nlohmann::json;

namespace {

json parse_json(const std::string& text, std::string_view name) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // syntax errors, but also e.g. numbers out of range
    fail("{}: not valid JSON: {}", name, e.what());
  }
}

const json& require(const json& object, std::string_view field, std::string_view where) {
  if (!object.is_object()) fail("tokenizer.json: {} is not an object", where);
  const auto it = object.find(field);
  if (it == object.end() || it->is_null()) fail("tokenizer.json: {} has no \"{}\"", where, field);
  return *it;
}

// Does any node of this (possibly Sequence) component have the given type?
bool has_component(const json& node, std::string_view type) {
  if (!node.is_object()) return false;
  if (node.value("type", "") == type) return true;
  for (const char* list : {"pretokenizers", "normalizers", "decoders"}) {
    if (node.contains(list) && node[list].is_array()) {
      for (const auto& child : node[list]) {
        if (has_component(child, type)) return true;
      }
    }
  }
  return false;
}

// A leading "▁" is added by a Prepend normalizer or a Metaspace pre-tokenizer.
bool adds_space_prefix(const json& root) {
  const std::function<bool(const json&)> visit = [&](const json& node) {
    if (!node.is_object()) return false;
    const std::string type = node.value("type", "");
    if (type == "Prepend" && node.value("prepend", "") == unicode::kMetaspace) return true;
    if (type == "Metaspace") {
      if (node.contains("prepend_scheme")) return node.value("prepend_scheme", "always") != "never";
      return node.value("add_prefix_space", true);
    }
    for (const char* list : {"pretokenizers", "normalizers"}) {
      if (node.contains(list) && node[list].is_array()) {
        for (const auto& child : node[list]) {
          if (visit(child)) return true;
        }
      }
    }
    return false;
  };
  return visit(root.value("normalizer", json())) || visit(root.value("pre_tokenizer", json()));
}

std::optional<std::string> token_content(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return std::nullopt;
}

struct AddedToken {
  int32_t id;
  std::string content;
  bool special;
};

int32_t checked_id(const json& value, std::string_view where) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX / 2) {
    fail("tokenizer.json: {} has id {} (not a valid token id)", where, value.dump());
  }
  return value.get<int32_t>();
}

std::vector<std::pair<std::string, std::string>> read_merges(const json& model) {
  std::vector<std::pair<std::string, std::string>> merges;
  if (!model.contains("merges")) return merges;
  const json& list = model["merges"];
  if (!list.is_array()) fail("tokenizer.json: model.merges is not an array");
  merges.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const json& m = list[i];
    if (m.is_string()) {  // "left right"
      const std::string s = m.get<std::string>();
      const size_t space = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
      if (space == std::string::npos) fail("tokenizer.json: merge {} ({:?}) has no space", i, s);
      merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail("tokenizer.json: merge {} is neither \"a b\" nor [\"a\", \"b\"]", i);
    }
  }
  return merges;
}

// SentencePiece-style json vocabularies carry merges, GGUF "llama" carries scores. A token made
// by merge r gets score -r, so merging by highest score applies merges in rank order; tokens
// that no merge makes rank after every merge.
std::vector<float> scores_from_merges(const Vocab& vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                      const std::map<std::string, int32_t, std::less<>>& ids) {
  std::vector<float> scores(vocab.tokens.size());
  const auto n_merges = static_cast<float>(merges.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -(n_merges + static_cast<float>(i));
  for (size_t rank = merges.size(); rank-- > 0;) {  // lowest rank last, so it wins
    const auto it = ids.find(merges[rank].first + merges[rank].second);
    if (it != ids.end()) scores[it->second] = -static_cast<float>(rank);
  }
  return scores;
}

bool is_byte_token_text(std::string_view t) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.starts_with("<0x") && t.back() == '>' && hex(t[3]) && hex(t[4]);
}

void apply_tokenizer_config(Vocab& vocab, const json& config, const std::map<std::string, int32_t, std::less<>>& ids) {
  const auto resolve = [&](std::string_view field, int32_t& id) {
    if (!config.contains(field)) return;
    const auto content = token_content(config[field]);
    if (!content) return;  // null: the model has none
    const auto it = ids.find(*content);
    if (it == ids.end()) fail("tokenizer_config.json: {} {:?} is not in the vocabulary", field, *content);
    id = it->second;
  };
  resolve("bos_token", vocab.bos_id);
  resolve("eos_token", vocab.eos_id);
  resolve("unk_token", vocab.unk_id);
  resolve("pad_token", vocab.pad_id);
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) vocab.add_bos = config["add_bos_token"];
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) vocab.add_eos = config["add_eos_token"];
  if (config.contains("chat_template")) {
    const json& t = config["chat_template"];
    if (t.is_string()) {
      vocab.chat_template = t.get<std::string>();
    } else if (t.is_array()) {  // [{"name": ..., "template": ...}]: the converter keeps "default"
      for (const auto& entry : t) {
        if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template")) {
          vocab.chat_template = entry["template"].get<std::string>();
        }
      }
    }
  }
}

// A TemplateProcessing post-processor that starts (ends) with a special token adds BOS (EOS).
void apply_post_processor(Vocab& vocab, const json& root, const std::map<std::string, int32_t, std::less<>>& ids) {
  const json post = root.value("post_processor", json());
  if (!post.is_object() || post.value("type", "") != "TemplateProcessing" || !post.contains("single")) return;
  const json& single = post["single"];
  if (!single.is_array() || single.empty()) return;
  const auto special_id = [&](const json& item) -> int32_t {
    if (!item.is_object() || !item.contains("SpecialToken")) return -1;
    const auto it = ids.find(item["SpecialToken"].value("id", ""));
    return it == ids.end() ? -1 : it->second;
  };
  if (const int32_t bos = special_id(single.front()); bos >= 0) vocab.bos_id = bos, vocab.add_bos = true;
  if (single.size() > 1) {
    if (const int32_t eos = special_id(single.back()); eos >= 0) vocab.eos_id = eos, vocab.add_eos = true;
  }
}

}  // namespace

namespace {

Vocab vocab_from_hf_json(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  const json root = parse_json(tokenizer_json, "tokenizer.json");
  if (!root.is_object()) fail("tokenizer.json: the top level is not an object");
  const json& model = require(root, "model", "the file");
  const std::string model_type = model.value("type", "BPE");
  if (model_type != "BPE") fail("tokenizer.json: model type {:?} is not supported (only BPE)", model_type);
  const json& vocab_json = require(model, "vocab", "model");
  if (!vocab_json.is_object()) fail("tokenizer.json: model.vocab is not an object");

  std::vector<AddedToken> added;
  if (root.contains("added_tokens") && root["added_tokens"].is_array()) {
    for (const auto& t : root["added_tokens"]) {
      const json& content = require(t, "content", "an added_tokens entry");
      if (!content.is_string()) fail("tokenizer.json: added token content is not a string");
      added.push_back({checked_id(require(t, "id", "an added_tokens entry"), content.get<std::string>()),
                       content.get<std::string>(), t.value("special", false)});
    }
  }

  // Ids may have holes (the converter fills them with [PAD<id>] unused tokens).
  int32_t n_tokens = 0;
  for (const auto& [text, id] : vocab_json.items()) n_tokens = std::max(n_tokens, checked_id(id, "vocab entry " + text) + 1);
  for (const auto& a : added) n_tokens = std::max(n_tokens, a.id + 1);
  if (n_tokens == 0) fail("tokenizer.json: the vocabulary is empty");
  const size_t n_entries = vocab_json.size() + added.size();
  if (static_cast<size_t>(n_tokens) > 2 * n_entries + 1024) {  // a few holes are normal, this is not
    fail("tokenizer.json: token ids go up to {} for only {} tokens", n_tokens - 1, n_entries);
  }

  Vocab vocab;
  vocab.tokens.assign(n_tokens, std::string());
  vocab.types.assign(n_tokens, TokenType::kNormal);
  std::vector<bool> filled(n_tokens, false);
  for (const auto& [text, id] : vocab_json.items()) {
    const int32_t i = id.get<int32_t>();
    if (filled[i]) fail("tokenizer.json: id {} is used by {:?} and {:?}", i, vocab.tokens[i], text);
    vocab.tokens[i] = text;
    filled[i] = true;
  }
  for (const auto& a : added) {
    if (filled[a.id] && vocab.tokens[a.id] != a.content) {
      fail("tokenizer.json: added token {:?} has id {}, already used by {:?}", a.content, a.id, vocab.tokens[a.id]);
    }
    vocab.tokens[a.id] = a.content;
    filled[a.id] = true;
  }
  for (int32_t i = 0; i < n_tokens; ++i) {
    if (!filled[i]) vocab.tokens[i] = fmt::format("[PAD{}]", i), vocab.types[i] = TokenType::kUnused;
  }
  std::map<std::string, int32_t, std::less<>> ids;
  for (int32_t i = 0; i < n_tokens; ++i) ids.emplace(vocab.tokens[i], i);

  const auto merges = read_merges(model);
  const json pre_tokenizer = root.value("pre_tokenizer", json());
  const bool byte_level = has_component(pre_tokenizer, "ByteLevel") || has_component(root.value("decoder", json()), "ByteLevel");
  const bool sentencepiece_like = model.value("byte_fallback", false) || has_component(pre_tokenizer, "Metaspace") ||
                                  has_component(root.value("normalizer", json()), "Replace");
  if (byte_level) {
    vocab.model = VocabModel::kByteLevelBpe;
    vocab.pre = detect_pre_tokenizer(pre_tokenizer);
    vocab.merges = merges;
    vocab.add_space_prefix = false;
    vocab.add_bos = false;
    for (const auto& a : added) {
      vocab.types[a.id] = a.special || looks_like_control_token(a.content) ? TokenType::kControl : TokenType::kUserDefined;
    }
  } else if (sentencepiece_like) {
    vocab.model = VocabModel::kSentencePiece;
    vocab.pre = "default";
    vocab.add_space_prefix = adds_space_prefix(root);
    vocab.add_bos = true;  // llama.cpp's default for SentencePiece vocabularies
    vocab.scores = scores_from_merges(vocab, merges, ids);
    for (int32_t i = 0; i < n_tokens; ++i) {
      if (vocab.types[i] == TokenType::kNormal && is_byte_token_text(vocab.tokens[i])) vocab.types[i] = TokenType::kByte;
    }
    for (const auto& a : added) vocab.types[a.id] = a.special ? TokenType::kControl : TokenType::kUserDefined;
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      if (const auto it = ids.find(model["unk_token"].get<std::string>()); it != ids.end()) vocab.unk_id = it->second;
    }
  } else {
    fail("tokenizer.json: a BPE model that is neither byte-level (ByteLevel) nor SentencePiece-style "
         "(byte_fallback / Metaspace) is not supported");
  }

  apply_post_processor(vocab, root, ids);
  if (!tokenizer_config_json.empty()) {
    const json config = parse_json(tokenizer_config_json, "tokenizer_config.json");
    if (!config.is_object()) fail("tokenizer_config.json: the top level is not an object");
    apply_tokenizer_config(vocab, config, ids);
  }
  if (vocab.unk_id >= 0 && vocab.model == VocabModel::kSentencePiece) vocab.types[vocab.unk_id] = TokenType::kUnknown;
  if (vocab.add_bos && vocab.bos_id < 0) vocab.add_bos = false;  // nothing to add
  if (vocab.add_eos && vocab.eos_id < 0) vocab.add_eos = false;
  vocab.validate("tokenizer.json");
  return vocab;
}

}  // namespace

Vocab load_vocab_from_hf(const std::string& tokenizer_json, const std::string& tokenizer_config_json) {
  try {
    return vocab_from_hf_json(tokenizer_json, tokenizer_config_json);
  } catch (const json::exception& e) {  // a field of an unexpected JSON type
    fail("tokenizer.json / tokenizer_config.json: unexpected content: {}", e.what());
  }
}

}  // namespace edgellm::tok
