// Property: decode(encode(text)) == text, on thousands of random strings drawn from every
// Unicode plane (not just the common scripts), mixed with whitespace runs, digits,
// contractions and text that looks like special tokens but must stay text when special-token
// parsing is off. For the byte-level BPE vocabularies (GPT-2's ByteLevel pre-tokenizer and a
// Llama-3/Qwen-style regex Split) and a SentencePiece vocabulary with byte fallback.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

// Any Unicode scalar value: a plane chosen uniformly (0..16, so the supplementary, ideographic,
// special-purpose and private-use planes appear as often as the BMP), then a code point in it;
// surrogates are not scalar values and are redrawn.
uint32_t random_scalar(std::mt19937& rng) {
  for (;;) {
    const uint32_t plane = std::uniform_int_distribution<uint32_t>(0, 16)(rng);
    const uint32_t cp = (plane << 16) | std::uniform_int_distribution<uint32_t>(0, 0xFFFF)(rng);
    if (cp < 0xD800 || cp > 0xDFFF) return cp;
  }
}

// Pieces that exercise the pre-tokenizers' branches and the special-token matcher.
const std::vector<std::string> kFragments = {
    "<|endoftext|>", "<|endoftext|", "<|im_start|>", "<|im_end|>", "<tool>", "<tool", "<s>", "</s>",
    "<unk>", "<0x41>", "<0xZZ>", "[INST]", "<<SYS>>", "'s", "'LL", "'ve", " 'd", "12345", "3.14",
    "  ", "   ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\x8b",
    "\xef\xbb\xbf", "a\xcc\x81", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x92\xbb",
    "hello", " world", "x=y+1;", "{}", "\\u0000", std::string(1, '\0')};

std::string random_text(std::mt19937& rng, size_t n_items, bool allow_metaspace) {
  std::string out;
  for (size_t i = 0; i < n_items; ++i) {
    const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
    if (kind <= 3) {
      uint32_t cp = random_scalar(rng);
      // SentencePiece writes spaces as U+2581 and decodes every U+2581 back to a space, so that
      // one character cannot round-trip there (as in HF tokenizers and llama.cpp).
      while (!allow_metaspace && cp == 0x2581) cp = random_scalar(rng);
      out += test::utf8(cp);
    } else if (kind <= 5) {
      out += kFragments[std::uniform_int_distribution<size_t>(0, kFragments.size() - 1)(rng)];
    } else {
      out += test::random_unicode_text(rng, 1);  // common scripts, punctuation, spaces
    }
  }
  return out;
}

TEST(TokenizerRoundTrip, ThousandsOfStringsOverAllPlanes) {
  struct Case {
    const char* name;
    Tokenizer tokenizer;
    bool byte_level;
  };
  Case cases[] = {
      {"gpt2", Tokenizer::from_hf_files(test::byte_level_tokenizer_json(test::synthetic_merges(), test::gpt2_pre_tokenizer()), ""),
       true},
      {"llama3-regex",
       Tokenizer::from_hf_files(
           test::byte_level_tokenizer_json(
               test::synthetic_merges(),
               {{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"},
                   {"pattern",
                    {{"Regex",
                      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
                   {"behavior", "Isolated"},
                   {"invert", false}},
                  {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}),
           ""),
       true},
      {"spm", Tokenizer::from_hf_files(test::sentencepiece_tokenizer_json(), test::sentencepiece_config_json()), false},
  };
  std::mt19937 rng(2024);
  int n_strings = 0;
  size_t n_bytes = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t n_items = 1 + static_cast<size_t>(trial % 97);
    for (Case& c : cases) {
      const std::string text = random_text(rng, n_items, c.byte_level);
      // add_special: BOS where the vocabulary adds one (SentencePiece), dropped again by
      // skip_special; parse_special off, so "<|endoftext|>" and friends are plain text.
      const std::vector<int32_t> ids = c.tokenizer.encode(text, true, false);
      ASSERT_EQ(c.tokenizer.decode(ids, true), text) << c.name << " trial " << trial;
      if (c.byte_level) {  // and piece by piece, as streaming output concatenates them
        std::string pieces;
        for (const int32_t id : ids) pieces += c.tokenizer.token_to_piece(id);
        ASSERT_EQ(pieces, text) << c.name << " trial " << trial;
      }
      ++n_strings;
      n_bytes += text.size();
    }
  }
  EXPECT_EQ(n_strings, 9000);
  EXPECT_GT(n_bytes, 1000000u);  // several MB of text through three tokenizers
}

// With parse_special off, special-token text is never turned into the special token itself.
TEST(TokenizerRoundTrip, SpecialTextStaysTextWithoutParseSpecial) {
  const Tokenizer t =
      Tokenizer::from_hf_files(test::byte_level_tokenizer_json(test::synthetic_merges(), test::gpt2_pre_tokenizer()), "");
  const int32_t eot = t.token_id("<|endoftext|>");
  ASSERT_GE(eot, 0);
  std::mt19937 rng(9);
  for (int trial = 0; trial < 500; ++trial) {
    const std::string text = random_text(rng, 1 + trial % 40, true) + "<|endoftext|>";
    const std::vector<int32_t> plain = t.encode(text, false, false);
    for (const int32_t id : plain) ASSERT_NE(id, eot) << trial;
    const std::vector<int32_t> parsed = t.encode(text, false, true);
    ASSERT_EQ(parsed.back(), eot) << trial;
    ASSERT_EQ(t.decode(parsed), text);
  }
}

}  // namespace
}  // namespace edgellm
