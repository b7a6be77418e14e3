#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "sampling/stop_matcher.h"

namespace edgellm {
namespace {

// Feeds the pieces; returns what each push released (and stops at a stop).
std::vector<std::string> feed(StopMatcher& matcher, const std::vector<std::string>& pieces) {
  std::vector<std::string> released;
  for (const std::string& piece : pieces) {
    StopMatcher::Result result = matcher.push(piece);
    released.push_back(result.text);
    if (result.stopped) break;
  }
  return released;
}

// True when text is well-formed UTF-8 (no partial characters at either end).
bool is_complete_utf8(const std::string& text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3
                                          : (lead >> 3) == 30 ? 4 : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    i += length;
  }
  return true;
}

TEST(StopMatcher, WithoutStopStringsEverythingPassesThrough) {
  StopMatcher matcher({});
  EXPECT_EQ(feed(matcher, {"Hello", ", world"}), (std::vector<std::string>{"Hello", ", world"}));
  EXPECT_FALSE(matcher.stopped());
  EXPECT_EQ(matcher.flush(), "");
}

TEST(StopMatcher, StopsInsideOnePiece) {
  StopMatcher matcher({"END"});
  const StopMatcher::Result result = matcher.push("Hello END world");
  EXPECT_EQ(result.text, "Hello ");
  EXPECT_TRUE(result.stopped);
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(matcher.matched_index(), 0);
}

TEST(StopMatcher, StopStringSplitAcrossPieces) {
  StopMatcher matcher({"END"});
  EXPECT_EQ(feed(matcher, {"Hel", "lo E", "N", "D more"}),
            (std::vector<std::string>{"Hel", "lo ", "", ""}));
  EXPECT_TRUE(matcher.stopped());
  // Later pieces are ignored and flush has nothing: the stop string is never emitted.
  EXPECT_EQ(matcher.push("xyz").text, "");
  EXPECT_TRUE(matcher.push("xyz").stopped);
  EXPECT_EQ(matcher.flush(), "");
}

TEST(StopMatcher, PartialPrefixIsHeldThenReleased) {
  StopMatcher matcher({"END"});
  const StopMatcher::Result first = matcher.push("the E");
  EXPECT_EQ(first.text, "the ");
  EXPECT_FALSE(first.stopped);
  EXPECT_EQ(matcher.held_back(), 1u);
  EXPECT_EQ(matcher.push("N").text, "");
  EXPECT_EQ(matcher.push("tire").text, "ENtire");
  EXPECT_EQ(matcher.held_back(), 0u);
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopMatcher, FlushReleasesTheHeldPrefixAtTheEnd) {
  StopMatcher matcher({"END"});
  EXPECT_EQ(matcher.push("abc EN").text, "abc ");
  EXPECT_EQ(matcher.flush(), "EN");
  EXPECT_FALSE(matcher.stopped());
}

TEST(StopMatcher, OverlappingPrefixesReleaseOnlyWhatCannotMatch) {
  StopMatcher matcher({"aab"});
  EXPECT_EQ(feed(matcher, {"a", "a", "a", "b"}), (std::vector<std::string>{"", "", "a", ""}));
  EXPECT_TRUE(matcher.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStopStringsWins) {
  StopMatcher matcher({"\nUser:", "###"});
  const StopMatcher::Result result = matcher.push("answer### more\nUser: hi");
  EXPECT_EQ(result.text, "answer");
  EXPECT_EQ(matcher.matched_index(), 1);

  StopMatcher same_start({"abc", "ab"});  // both start at byte 1: the first listed is reported
  EXPECT_EQ(same_start.push("xabcd").text, "x");
  EXPECT_EQ(same_start.matched_index(), 0);

  StopMatcher held({"\nUser:", "\n\n"});  // "\n" could start either
  EXPECT_EQ(held.push("line\n").text, "line");
  EXPECT_EQ(held.push("\n").text, "");
  EXPECT_EQ(held.matched_index(), 1);
}

TEST(StopMatcher, Utf8StopStringFedByteByByte) {
  const std::string text = "こんにちは終わりです";
  StopMatcher matcher({"終わり"});
  std::string shown;
  for (char byte : text) {
    const StopMatcher::Result result = matcher.push(std::string(1, byte));
    EXPECT_TRUE(is_complete_utf8(result.text)) << "released a partial character";
    shown += result.text;
    if (result.stopped) break;
  }
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(shown, "こんにちは");
}

TEST(StopMatcher, PartialUtf8CharacterIsHeldUntilComplete) {
  StopMatcher matcher({"終"});               // E7 B5 82
  EXPECT_EQ(matcher.push("\xE7").text, "");  // could start the stop string
  EXPECT_EQ(matcher.push("\xB4").text, "");  // no longer can, but the character is incomplete
  EXPECT_EQ(matcher.push("\x80!").text, "紀!");  // E7 B4 80

  StopMatcher no_stops({});
  EXPECT_EQ(no_stops.push("caf\xC3").text, "caf");
  EXPECT_EQ(no_stops.push("\xA9").text, "é");
  EXPECT_EQ(no_stops.push("\xF0\x9F").text, "");
  EXPECT_EQ(no_stops.flush(), "\xF0\x9F");  // at the end it is all there is
}

TEST(StopMatcher, InvalidBytesAreNotHeldForever) {
  StopMatcher matcher({});
  EXPECT_EQ(matcher.push("a\x80").text, "a\x80");  // a stray continuation byte
  EXPECT_EQ(matcher.push("\xE3z").text, "\xE3z");  // a lead byte cut short by ASCII
}

TEST(StopMatcher, ResetStartsOver) {
  StopMatcher matcher({"END"});
  matcher.push("xEND");
  ASSERT_TRUE(matcher.stopped());
  matcher.reset();
  EXPECT_FALSE(matcher.stopped());
  EXPECT_EQ(matcher.matched_index(), -1);
  EXPECT_EQ(matcher.push("abc").text, "abc");
}

TEST(StopMatcher, RejectsEmptyStopStrings) {
  EXPECT_THROW(StopMatcher({"ok", ""}), Error);
}

// Random texts over a tiny alphabet (so stop strings and near misses are frequent), cut into
// random pieces: the output must be exactly the text before the earliest stop string.
TEST(StopMatcher, AgreesWithWholeTextSearchOnRandomInput) {
  const std::vector<std::string> stops = {"abc", "cab", "bb", "ccca"};
  std::mt19937 generator(3);
  std::uniform_int_distribution<int> letter(0, 2);
  std::uniform_int_distribution<int> piece_length(0, 5);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int i = 0; i < 30; ++i) text += static_cast<char>('a' + letter(generator));
    size_t first_stop = std::string::npos;
    for (const std::string& stop : stops) first_stop = std::min(first_stop, text.find(stop));
    const std::string expected = text.substr(0, first_stop);

    StopMatcher matcher(stops);
    std::string shown;
    size_t at = 0;
    while (at < text.size() && !matcher.stopped()) {
      const size_t length = static_cast<size_t>(piece_length(generator));
      shown += matcher.push(text.substr(at, length)).text;
      at += length;
    }
    if (!matcher.stopped()) shown += matcher.flush();
    ASSERT_EQ(shown, expected) << "text " << text;
    ASSERT_EQ(matcher.stopped(), first_stop != std::string::npos) << "text " << text;
  }
}

}  // namespace
}  // namespace edgellm
