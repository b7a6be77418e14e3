// Stop strings for streamed generation (CLI `run`/`chat` and the server's `stop` parameter).
//
// The generated text arrives in pieces (one detokenized token at a time). A stop string may be
// split over several pieces, so text that could still turn out to be the start of a stop string
// is held back until the next pieces decide it. Guarantees:
//   - the concatenation of everything returned equals the generated text up to (excluding) the
//     first occurrence of any stop string, or all of it if none occurs (after flush());
//   - no part of a matched stop string is ever returned;
//   - returned text never ends inside a UTF-8 character, even if a piece does (an incomplete
//     trailing sequence is held back like a stop-string prefix).
// Matching is on bytes, which for valid UTF-8 only finds matches at character boundaries.
//
//   StopMatcher stop({"\nUser:", "</s>"});
//   for (each token) {
//     auto [text, stopped] = stop.push(decoder.push(token));
//     show(text);
//     if (stopped) break;
//   }
//   if (!stop.stopped()) show(stop.flush());  // generation ended by EOS or the token limit
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace edgellm {

class StopMatcher {
 public:
  struct Result {
    std::string text;      // safe to show now
    bool stopped = false;  // a stop string appeared: `text` ends right before it; stop generating
  };

  // Throws edgellm::Error on an empty stop string. No stop strings: everything passes through.
  explicit StopMatcher(std::vector<std::string> stop_strings);

  // Appends a piece of generated text. After a stop, further pieces are ignored and return
  // {"", true}.
  Result push(std::string_view piece);

  // Generation ended without a stop string: returns the held-back text (possibly ending in an
  // incomplete UTF-8 sequence, which is then all there is). Returns "" after a stop.
  std::string flush();

  bool stopped() const { return matched_ >= 0; }
  // Index in the constructor's list of the stop string that matched (the earliest in the text;
  // the first listed if several start at the same byte), or -1.
  int matched_index() const { return matched_; }
  // Bytes currently held back.
  size_t held_back() const { return pending_.size(); }

  // Forgets the pending text and the match, for a new generation with the same stop strings.
  void reset();

 private:
  // Start of the pending text's suffix that must be held back.
  size_t hold_back_start() const;

  std::vector<std::string> stop_strings_;
  size_t longest_stop_ = 0;
  std::string pending_;  // received but not yet returned
  int matched_ = -1;
};

}  // namespace edgellm
