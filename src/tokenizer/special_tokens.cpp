#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <iterator>
#include <map>

namespace edgellm::tok {

SpecialTokenSplitter::SpecialTokenSplitter(const Vocab& vocab, const std::vector<TokenType>& types) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType t = types[id];
    if (vocab.tokens[id].empty()) continue;
    if (t == TokenType::kControl || t == TokenType::kUnknown) {
      candidates_.push_back({id, vocab.tokens[id], true});
    } else if (t == TokenType::kUserDefined) {
      candidates_.push_back({id, vocab.tokens[id], false});
    }
  }
  std::stable_sort(candidates_.begin(), candidates_.end(),
                   [](const Candidate& a, const Candidate& b) { return a.text.size() > b.text.size(); });
  for (uint32_t i = 0; i < candidates_.size(); ++i) {
    const std::string_view text = candidates_[i].text;
    by_text_.emplace(text, i);
    auto& lengths = lengths_by_first_byte_[static_cast<uint8_t>(text[0])];
    if (std::find(lengths.begin(), lengths.end(), text.size()) == lengths.end()) {
      lengths.push_back(static_cast<uint32_t>(text.size()));
    }
  }
}

void SpecialTokenSplitter::split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const {
  // 1. Every occurrence of every eligible token, grouped per token (positions ascending).
  std::vector<std::vector<size_t>> occurrences(candidates_.size());
  bool any = false;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    for (const uint32_t length : lengths_by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      if (length > text.size() - pos) continue;
      const auto it = by_text_.find(text.substr(pos, length));
      if (it == by_text_.end() || (candidates_[it->second].needs_parse_special && !parse_special)) continue;
      occurrences[it->second].push_back(pos);
      any = true;
    }
  }
  if (!any) {
    if (!text.empty()) out.push_back({0, text.size(), -1});
    return;
  }
  // 2. Longest tokens first claim their leftmost occurrences that overlap nothing claimed yet.
  std::map<size_t, std::pair<size_t, int32_t>> claimed;  // begin -> (end, token)
  const auto overlaps = [&](size_t begin, size_t end) {
    auto it = claimed.lower_bound(begin);
    if (it != claimed.end() && it->first < end) return true;
    if (it != claimed.begin() && std::prev(it)->second.first > begin) return true;
    return false;
  };
  for (size_t c = 0; c < candidates_.size(); ++c) {
    const size_t length = candidates_[c].text.size();
    for (const size_t pos : occurrences[c]) {
      if (!overlaps(pos, pos + length)) claimed.emplace(pos, std::make_pair(pos + length, candidates_[c].id));
    }
  }
  // 3. Fragments in text order.
  size_t cursor = 0;
  for (const auto& [begin, end_and_token] : claimed) {
    if (begin > cursor) out.push_back({cursor, begin - cursor, -1});
    out.push_back({begin, end_and_token.first - begin, end_and_token.second});
    cursor = end_and_token.first;
  }
  if (cursor < text.size()) out.push_back({cursor, text.size() - cursor, -1});
}

}  // namespace edgellm::tok
