// Real vocabularies from ../shared: llama.cpp's expected ids (gpt-2, deepseek-llm GGUFs; Qwen3's
// tokenizer.json on the qwen2 cases), TinyStories, GGUF write/read round trips, exact round trips.
#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "gguf/gguf_names.h"
#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

const std::string kShared = EDGELLM_SHARED_DIR;
const std::string kVocabTests = kShared + "/tokenizers/vocab-tests/";
const std::string kQwen3 = kShared + "/tokenizers/hf/qwen3/tokenizer.json";
const std::string kTinyStories = kShared + "/models/tinystories-656k/tokenizer.json";

#define REQUIRE_SHARED(path)                                                                        \
  if (!fs::exists(path)) GTEST_SKIP() << "shared reference file " << (path) << " is absent (needs " \
                                      << "../shared beside the repository)"

// Encodes every case of a llama.cpp vocab test; returns the number of cases that match.
size_t check_vocab_cases(const Tokenizer& t, const std::string& inp, const std::string& out) {
  const auto cases = test::read_vocab_test_cases(inp);
  const auto expected = test::read_expected_ids(out);
  EXPECT_GE(expected.size(), cases.size());
  size_t matched = 0;
  for (size_t i = 0; i < cases.size() && i < expected.size(); ++i) {
    const Ids got = t.encode(cases[i], false, false);
    EXPECT_EQ(got, expected[i]) << "case " << i << ": " << cases[i];
    matched += got == expected[i];
  }
  return matched;
}

TEST(TokenizerShared, Gpt2VocabTest) {
  REQUIRE_SHARED(kVocabTests + "ggml-vocab-gpt-2.gguf");
  const gguf::GgufFile file = gguf::GgufFile::open(kVocabTests + "ggml-vocab-gpt-2.gguf");
  const Tokenizer t = Tokenizer::from_gguf(file);
  EXPECT_EQ(t.pre_name(), "gpt-2");
  const std::string base = kVocabTests + "ggml-vocab-gpt-2.gguf";
  EXPECT_EQ(check_vocab_cases(t, base + ".inp", base + ".out"), 47u);
}

TEST(TokenizerShared, DeepseekLlmVocabTest) {
  REQUIRE_SHARED(kVocabTests + "ggml-vocab-deepseek-llm.gguf");
  const gguf::GgufFile file = gguf::GgufFile::open(kVocabTests + "ggml-vocab-deepseek-llm.gguf");
  const Tokenizer t = Tokenizer::from_gguf(file);
  EXPECT_EQ(t.pre_name(), "deepseek-llm");
  EXPECT_EQ(t.bos_id(), 100000);
  EXPECT_TRUE(t.add_bos());
  const std::string base = kVocabTests + "ggml-vocab-deepseek-llm.gguf";
  EXPECT_EQ(check_vocab_cases(t, base + ".inp", base + ".out"), 47u);
}

// Long texts (so the encoder caches repeated pieces). DeepSeek-LLM's first pre-tokenizer regex
// isolates every newline, so a text's ids are those of its lines with the newline's between them:
// first all cases, three times, against llama.cpp's expected ids.
TEST(TokenizerShared, DeepseekLlmCasesInOneLongText) {
  REQUIRE_SHARED(kVocabTests + "ggml-vocab-deepseek-llm.gguf");
  const gguf::GgufFile file = gguf::GgufFile::open(kVocabTests + "ggml-vocab-deepseek-llm.gguf");
  const Tokenizer t = Tokenizer::from_gguf(file);
  const std::string base = kVocabTests + "ggml-vocab-deepseek-llm.gguf";
  const auto cases = test::read_vocab_test_cases(base + ".inp");
  const auto expected = test::read_expected_ids(base + ".out");
  ASSERT_GE(expected.size(), cases.size());
  const Ids newline = t.encode("\n", false, false);
  ASSERT_EQ(newline.size(), 1u);
  std::string text;
  Ids expected_ids;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < cases.size(); ++i) {
      text += cases[i] + "\n";
      expected_ids.insert(expected_ids.end(), expected[i].begin(), expected[i].end());
      expected_ids.push_back(newline[0]);
    }
  }
  ASSERT_GT(text.size(), 2048u);  // well above the length where the cache starts
  EXPECT_EQ(t.encode(text, false, false), expected_ids);

  // Generated lines (words that repeat, random characters of many scripts, invalid bytes): the
  // long text against its lines encoded one by one (too short for the cache).
  std::vector<std::string> words;
  for (const auto& c : cases) {
    for (size_t start = 0, end = 0; start < c.size(); start = end + 1) {
      end = std::min(c.find_first_of(" \n", start), c.size());
      if (end > start) words.push_back(c.substr(start, end - start));
    }
  }
  std::mt19937 rng(11);
  std::string long_text;
  Ids line_by_line;
  for (int line = 0; line < 600; ++line) {
    std::string s;
    for (int part = std::uniform_int_distribution<int>(1, 12)(rng); part > 0; --part) {
      const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
      if (kind < 6) {
        s += (kind < 3 ? " " : "") + words[std::uniform_int_distribution<size_t>(0, words.size() - 1)(rng)];
      } else if (kind < 9) {
        s += test::random_unicode_text(rng, std::uniform_int_distribution<size_t>(1, 30)(rng));
      } else {
        s += test::random_bytes(rng, 3);
      }
    }
    s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }), s.end());
    ASSERT_LT(s.size(), 1024u);
    long_text += s + "\n";
    const Ids ids = t.encode(s, false, false);
    line_by_line.insert(line_by_line.end(), ids.begin(), ids.end());
    line_by_line.push_back(newline[0]);
  }
  EXPECT_EQ(t.encode(long_text, false, false), line_by_line);
}

TEST(TokenizerShared, Qwen3JsonOnQwen2Cases) {
  REQUIRE_SHARED(kQwen3);
  const Tokenizer t = load_tokenizer_file(kQwen3);
  EXPECT_EQ(t.pre_name(), "qwen2");
  EXPECT_EQ(t.n_vocab(), 151669);
  const std::string base = kVocabTests + "ggml-vocab-qwen2.gguf";
  EXPECT_EQ(check_vocab_cases(t, base + ".inp", base + ".out"), 47u);
  // ... and after a trip through GGUF metadata.
  const test::GgufRoundTrip rt(t);
  EXPECT_EQ(rt.file.get_string(gguf::key::kTokenizerPre), "qwen2");
  EXPECT_EQ(check_vocab_cases(rt.tokenizer, base + ".inp", base + ".out"), 47u);
}

TEST(TokenizerShared, Qwen3SpecialTokensAndConfig) {
  REQUIRE_SHARED(kQwen3);
  const Tokenizer t = load_tokenizer_file(kQwen3);
  const int32_t im_start = t.token_id("<|im_start|>"), im_end = t.token_id("<|im_end|>");
  EXPECT_EQ(im_start, 151644);
  EXPECT_EQ(im_end, 151645);
  EXPECT_EQ(t.eos_id(), im_end);
  EXPECT_EQ(t.bos_id(), -1);
  EXPECT_FALSE(t.add_bos());
  EXPECT_TRUE(t.is_end_of_generation(im_end));
  EXPECT_TRUE(t.is_end_of_generation(t.token_id("<|endoftext|>")));
  EXPECT_FALSE(t.is_end_of_generation(im_start));
  EXPECT_NE(t.chat_template().find("<|im_start|>"), std::string::npos);
  const std::string chat = "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n<think>\n";
  const Ids parsed = t.encode(chat, true, true);
  EXPECT_EQ(parsed.front(), im_start);
  EXPECT_EQ(std::count(parsed.begin(), parsed.end(), im_end), 1);
  EXPECT_EQ(std::count(parsed.begin(), parsed.end(), t.token_id("<think>")), 1);
  EXPECT_EQ(t.decode(parsed), chat);
  const Ids plain = t.encode(chat, true, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), im_end), 0);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), t.token_id("<think>")), 1);  // user-defined: always
  EXPECT_EQ(t.decode(plain), chat);
}

TEST(TokenizerShared, TinyStoriesJsonAndGguf) {
  REQUIRE_SHARED(kTinyStories);
  const Tokenizer t = load_tokenizer_file(kTinyStories);
  EXPECT_STREQ(t.model_name(), "llama");
  EXPECT_EQ(t.encode("Once upon a time"), (Ids{1, 80, 147, 201, 282, 57}));
  EXPECT_EQ(t.decode(Ids{1, 80, 147, 201, 282, 57}, true), "Once upon a time");
  EXPECT_EQ(t.eos_id(), 2);
  EXPECT_TRUE(t.is_end_of_generation(2));
  const test::GgufRoundTrip rt(t);
  EXPECT_EQ(rt.file.get_string(gguf::key::kTokenizerModel), "llama");
  EXPECT_EQ(rt.tokenizer.encode("Once upon a time"), (Ids{1, 80, 147, 201, 282, 57}));
  // Every vocab-test case (the text, its unknown characters included) and random stories.
  for (const auto& c : test::read_vocab_test_cases(kVocabTests + "ggml-vocab-gpt-2.gguf.inp")) {
    EXPECT_EQ(rt.tokenizer.encode(c), t.encode(c)) << c;
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    const std::string text = test::random_unicode_text(rng, 1 + i % 70);
    ASSERT_EQ(rt.tokenizer.encode(text), t.encode(text)) << text;
  }
}

// Text over the characters a vocabulary has as single tokens, so an exact round trip is possible.
std::string random_text_over(const Tokenizer& t, std::mt19937& rng, size_t n) {
  std::vector<std::string> chars;
  for (int32_t id = 0; id < t.n_vocab(); ++id) {
    const std::string piece = t.token_to_piece(id);
    if (!t.is_special(id) && !piece.empty() && unicode::utf8_sequence_length(static_cast<uint8_t>(piece[0])) == piece.size()) {
      chars.push_back(piece);
    }
  }
  std::string out;
  for (size_t i = 0; i < n; ++i) out += chars[std::uniform_int_distribution<size_t>(0, chars.size() - 1)(rng)];
  return out;
}

TEST(TokenizerShared, RoundTripsOnRealVocabularies) {
  REQUIRE_SHARED(kQwen3);
  REQUIRE_SHARED(kTinyStories);
  const gguf::GgufFile gpt2_file = gguf::GgufFile::open(kVocabTests + "ggml-vocab-gpt-2.gguf");
  const gguf::GgufFile deepseek_file = gguf::GgufFile::open(kVocabTests + "ggml-vocab-deepseek-llm.gguf");
  const Tokenizer byte_level[] = {Tokenizer::from_gguf(gpt2_file), Tokenizer::from_gguf(deepseek_file),
                                  load_tokenizer_file(kQwen3)};
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const std::string text = test::random_unicode_text(rng, 1 + trial % 120);
    for (const Tokenizer& t : byte_level) ASSERT_EQ(t.decode(t.encode(text, true, false), true), text);
    // Not UTF-8 at all. (DeepSeek's vocabulary gives the characters of bytes C0, C1 and F8..FF,
    // which UTF-8 never contains, to user-defined tokens that decode as UTF-8 text: skip it.)
    const std::string bytes = test::random_bytes(rng, 1 + trial % 40);
    for (const Tokenizer* t : {&byte_level[0], &byte_level[2]}) ASSERT_EQ(t->decode(t->encode(bytes, true, false), true), bytes);
  }
  const Tokenizer tiny = load_tokenizer_file(kTinyStories);
  for (int trial = 0; trial < 300; ++trial) {
    const std::string text = random_text_over(tiny, rng, 1 + trial % 100);
    ASSERT_EQ(tiny.decode(tiny.encode(text), true), text);  // SentencePiece: the added space is removed
  }
}

// Our writer reproduces the tokenizer arrays of a file llama.cpp's converter made.
TEST(TokenizerShared, WritesTheConverterKeys) {
  REQUIRE_SHARED(kVocabTests + "ggml-vocab-gpt-2.gguf");
  const gguf::GgufFile original = gguf::GgufFile::open(kVocabTests + "ggml-vocab-gpt-2.gguf");
  const test::GgufRoundTrip rt(Tokenizer::from_gguf(original));
  namespace key = gguf::key;
  EXPECT_EQ(rt.file.get_string(key::kTokenizerModel), "gpt2");
  EXPECT_EQ(rt.file.get_string(key::kTokenizerPre), "gpt-2");
  EXPECT_EQ(rt.file.get_string_array(key::kTokenizerTokens), original.get_string_array(key::kTokenizerTokens));
  EXPECT_EQ(rt.file.get_int_array(key::kTokenizerTokenType), original.get_int_array(key::kTokenizerTokenType));
  EXPECT_EQ(rt.file.get_string_array(key::kTokenizerMerges), original.get_string_array(key::kTokenizerMerges));
  EXPECT_EQ(rt.file.get_int(key::kTokenizerBosId), original.get_int(key::kTokenizerBosId));
  EXPECT_EQ(rt.file.get_int(key::kTokenizerEosId), original.get_int(key::kTokenizerEosId));
  EXPECT_EQ(rt.file.find(key::kTokenizerScores), nullptr);
}

}  // namespace
}  // namespace edgellm
