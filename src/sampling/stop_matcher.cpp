#include "sampling/stop_matcher.h"

#include <algorithm>
#include <utility>

#include "core/error.h"

namespace edgellm {
namespace {

bool is_continuation_byte(unsigned char byte) { return (byte & 0xC0u) == 0x80u; }

// Length of the UTF-8 sequence that `lead` starts (1 for ASCII and for bytes that cannot lead,
// so invalid text is passed through rather than held forever).
size_t sequence_length(unsigned char lead) {
  if ((lead & 0xE0u) == 0xC0u) return 2;
  if ((lead & 0xF0u) == 0xE0u) return 3;
  if ((lead & 0xF8u) == 0xF0u) return 4;
  return 1;
}

// Start of an incomplete UTF-8 sequence at the end of text, or text.size() if there is none.
size_t incomplete_utf8_start(std::string_view text) {
  const size_t lookback = std::min<size_t>(text.size(), 3);  // a 4-byte sequence missing 1+ bytes
  for (size_t back = 1; back <= lookback; ++back) {
    const size_t at = text.size() - back;
    const auto byte = static_cast<unsigned char>(text[at]);
    if (is_continuation_byte(byte)) continue;
    return sequence_length(byte) > back ? at : text.size();
  }
  return text.size();
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {
  for (const std::string& stop : stop_strings_) {
    if (stop.empty()) fail("stop strings must not be empty");
    longest_stop_ = std::max(longest_stop_, stop.size());
  }
}

StopMatcher::Result StopMatcher::push(std::string_view piece) {
  if (stopped()) return {"", true};
  pending_.append(piece);

  // Everything before pending_ was checked to hold no (start of a) stop string, so a match can
  // only begin inside pending_. Take the earliest one.
  size_t match_at = std::string::npos;
  for (size_t i = 0; i < stop_strings_.size(); ++i) {
    const size_t at = pending_.find(stop_strings_[i]);
    if (at < match_at) {
      match_at = at;
      matched_ = static_cast<int>(i);
    }
  }
  if (match_at != std::string::npos) {
    Result result{pending_.substr(0, match_at), true};
    pending_.clear();
    return result;
  }

  const size_t keep_from = hold_back_start();
  Result result{pending_.substr(0, keep_from), false};
  pending_.erase(0, keep_from);
  return result;
}

size_t StopMatcher::hold_back_start() const {
  const std::string_view text = pending_;
  // The earliest suffix that is a proper prefix of a stop string: a match could start there.
  // Suffixes as long as the longest stop string would already have been found as matches.
  const size_t longest_prefix = longest_stop_ == 0 ? 0 : longest_stop_ - 1;
  size_t start = text.size() - std::min(text.size(), longest_prefix);
  for (; start < text.size(); ++start) {
    const std::string_view suffix = text.substr(start);
    const bool could_start_stop = std::any_of(
        stop_strings_.begin(), stop_strings_.end(),
        [suffix](const std::string& stop) { return std::string_view(stop).starts_with(suffix); });
    if (could_start_stop) break;
  }
  return std::min(start, incomplete_utf8_start(text));
}

std::string StopMatcher::flush() {
  if (stopped()) return "";
  return std::exchange(pending_, std::string());
}

void StopMatcher::reset() {
  pending_.clear();
  matched_ = -1;
}

}  // namespace edgellm
