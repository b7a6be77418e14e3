// Byte-level BPE on a small synthetic vocabulary: hand-derived encodings, the merge loop against
// a naive string-based reference, pre-tokenizer splits, special tokens, exact round trips.
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

using test::byte_level_tokenizer_json;
using test::gpt2_pre_tokenizer;
using test::synthetic_merges;
using test::utf8;
using Ids = std::vector<int32_t>;

// Ids of the synthetic vocabulary (tokenizer_test_util.h): bytes are their own ids, merges follow.
constexpr int32_t kSpaceT = 256, kHe = 257, kSpaceThe = 258, kAt = 264, kTwoSpaces = 267, k12 = 269;
constexpr int32_t kNiHao = 274, kEndOfText = 275, kTool = 276;

Tokenizer gpt2_tokenizer() {
  return Tokenizer::from_hf_files(byte_level_tokenizer_json(synthetic_merges(), gpt2_pre_tokenizer()), "");
}

nlohmann::json split_pre_tokenizer(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
}

TEST(TokenizerBpe, HandDerivedEncodings) {
  const Tokenizer t = gpt2_tokenizer();
  EXPECT_STREQ(t.model_name(), "gpt2");
  EXPECT_EQ(t.pre_name(), "gpt-2");
  EXPECT_EQ(t.encode("the cat", false), (Ids{'t', kHe, ' ', 'c', kAt}));
  EXPECT_EQ(t.encode("the the", false), (Ids{'t', kHe, kSpaceThe}));
  EXPECT_EQ(t.encode(" t", false), (Ids{kSpaceT}));
  EXPECT_EQ(t.encode("12345", false), (Ids{k12, '3', '4', '5'}));
  EXPECT_EQ(t.encode("\xe4\xbd\xa0\xe5\xa5\xbd", false), (Ids{kNiHao}));  // 你好
  EXPECT_EQ(t.encode("a   b", false), (Ids{'a', kTwoSpaces, ' ', 'b'}));
  EXPECT_EQ(t.encode("", false), Ids{});
  // No BOS/EOS configured for this vocabulary: add_special changes nothing.
  EXPECT_EQ(t.encode("the cat", true), t.encode("the cat", false));
}

TEST(TokenizerBpe, SpecialTokensOnlyWhenParsed) {
  const Tokenizer t = gpt2_tokenizer();
  EXPECT_EQ(t.encode("a<|endoftext|>b", false, true), (Ids{'a', kEndOfText, 'b'}));
  const Ids plain = t.encode("a<|endoftext|>b", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), kEndOfText), 0);
  EXPECT_EQ(t.decode(plain), "a<|endoftext|>b");
  // Added, non-special tokens are always recognised (as in Hugging Face and llama.cpp).
  EXPECT_EQ(t.encode("x<tool>y", false, false), (Ids{'x', kTool, 'y'}));
  EXPECT_TRUE(t.is_special(kEndOfText));
  EXPECT_FALSE(t.is_special(kTool));
  EXPECT_TRUE(t.is_end_of_generation(kEndOfText));
  EXPECT_FALSE(t.is_end_of_generation(kTool));
  EXPECT_EQ(t.decode(Ids{'a', kEndOfText, 'b'}, false), "a<|endoftext|>b");
  EXPECT_EQ(t.decode(Ids{'a', kEndOfText, 'b'}, true), "ab");
}

TEST(TokenizerBpe, PreTokenizerDetectionAndSplits) {
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const Tokenizer q = Tokenizer::from_hf_files(byte_level_tokenizer_json(synthetic_merges(), split_pre_tokenizer(qwen2)), "");
  EXPECT_EQ(q.pre_name(), "qwen2");
  EXPECT_EQ(q.encode("12345", false), (Ids{'1', '2', '3', '4', '5'}));  // digits one by one

  const auto split = [](std::string_view pre, const std::string& text) {
    std::vector<tok::TextPiece> pieces;
    tok::RegexSplitter(tok::find_pre_tokenizer(pre)).split(text, pieces);
    std::vector<std::string> out;
    for (const auto& p : pieces) out.push_back(text.substr(p.offset, p.length));
    return out;
  };
  using Strings = std::vector<std::string>;
  EXPECT_EQ(split("qwen2", "Hello 123 world's"), (Strings{"Hello", " ", "1", "2", "3", " world", "'s"}));
  EXPECT_EQ(split("llama3", "12345 ok\n\nx"), (Strings{"123", "45", " ok", "\n\n", "x"}));
  EXPECT_EQ(split("gpt-2", "I'm  here!!"), (Strings{"I", "'m", " ", " here", "!!"}));
  EXPECT_EQ(split("deepseek-llm", "ab\ncd"), (Strings{"ab", "\n", "cd"}));
  EXPECT_EQ(split("starcoder", "x=42"), (Strings{"x", "=", "4", "2"}));
  // U+180E is not white space in Unicode (PCRE2's own \s would say it is).
  EXPECT_EQ(split("gpt-2", "a" + utf8(0x180E) + "!"), (Strings{"a", utf8(0x180E) + "!"}));
  // U+3000 (ideographic space) is; only an ASCII space joins the following word.
  EXPECT_EQ(split("gpt-2", "a" + utf8(0x3000) + utf8(0x3000) + "b"), (Strings{"a", utf8(0x3000), utf8(0x3000), "b"}));
  EXPECT_THROW(tok::find_pre_tokenizer("no-such-family"), Error);
}

TEST(TokenizerBpe, WhitespaceRewrite) {
  const std::string ws = tok::with_unicode_whitespace(R"(\s+(?!\S)|[^\s\p{L}]|\\s)");
  EXPECT_EQ(ws.find("\\s"), ws.rfind("\\\\s") + 1);  // only the escaped backslash survives
  EXPECT_NE(ws.find("[^\\t\\n"), std::string::npos);
  EXPECT_THROW(tok::with_unicode_whitespace(R"([\S])"), Error);
}

// Naive reference: repeatedly merge the lowest-rank adjacent pair of strings (leftmost on ties).
std::vector<std::string> naive_bpe(const std::string& bytes, const std::map<std::pair<std::string, std::string>, int>& ranks) {
  std::vector<std::string> symbols;
  for (const char c : bytes) symbols.push_back(unicode::byte_level_encode(std::string(1, c)));
  while (true) {
    int best_rank = INT32_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = ranks.find({symbols[i], symbols[i + 1]});
      if (it != ranks.end() && it->second < best_rank) best_rank = it->second, best = i;
    }
    if (best_rank == INT32_MAX) return symbols;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

TEST(TokenizerBpe, MergeLoopMatchesNaiveReference) {
  // A dense merge table over a small alphabet, so words merge deeply and ties are common.
  std::mt19937 rng(1234);
  tok::Vocab vocab;
  const auto& table = unicode::byte_level_table();
  for (int b = 0; b < 256; ++b) vocab.tokens.push_back(table.byte_to_utf8[b]);
  std::vector<std::string> pool = {"a", "b", "c", "d", " "};
  std::map<std::pair<std::string, std::string>, int> ranks;
  for (int i = 0; i < 400; ++i) {
    const std::string& l = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
    const std::string& r = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)];
    const std::string el = unicode::byte_level_encode(l), er = unicode::byte_level_encode(r);
    if (l.size() + r.size() > 12 || ranks.count({el, er})) continue;
    ranks.emplace(std::make_pair(el, er), static_cast<int>(vocab.merges.size()));
    vocab.merges.emplace_back(el, er);
    if (std::find(vocab.tokens.begin(), vocab.tokens.end(), el + er) == vocab.tokens.end()) vocab.tokens.push_back(el + er);
    pool.push_back(l + r);
  }
  vocab.types.assign(vocab.tokens.size(), tok::TokenType::kNormal);
  const tok::TokenIndex index = tok::build_token_index(vocab);
  const tok::BpeEncoder encoder(vocab, index, false);
  tok::BpeScratch scratch;
  for (int trial = 0; trial < 250; ++trial) {
    // Short and long words exercise both merge paths (flat array / heap).
    const size_t n = trial < 200 ? std::uniform_int_distribution<size_t>(1, 40)(rng) : 129 + (trial - 200) * 6;
    std::string word;
    for (size_t i = 0; i < n; ++i) word += "abcd "[std::uniform_int_distribution<int>(0, 4)(rng)];
    std::vector<int32_t> got;
    encoder.encode_piece(word, got, scratch);
    std::vector<int32_t> expected;
    for (const auto& s : naive_bpe(word, ranks)) expected.push_back(index.at(s));
    ASSERT_EQ(got, expected) << "word " << word;
  }
}

TEST(TokenizerBpe, PieceCacheAgreesWithAMap) {
  std::mt19937 rng(7);
  std::vector<std::string> pieces;  // the cache keeps views: the strings must stay put
  for (int i = 0; i < 5000; ++i) {
    std::string piece(std::uniform_int_distribution<size_t>(1, tok::PieceCache::kMaxPieceBytes)(rng), ' ');
    for (char& c : piece) c = "ab\xe4\xbd\xa0 "[std::uniform_int_distribution<int>(0, 4)(rng)];
    pieces.push_back(piece);
  }
  tok::PieceCache cache;
  std::map<std::pair<std::string, uint16_t>, Ids> reference;
  for (const std::string& piece : pieces) {
    size_t slot = 0;
    const auto tag = static_cast<uint16_t>(std::uniform_int_distribution<int>(0, 1)(rng));  // same bytes, other ids
    const auto found = cache.find(piece, tag, &slot);
    const auto it = reference.find({piece, tag});
    ASSERT_EQ(found.has_value(), it != reference.end()) << piece;
    if (found) {
      ASSERT_EQ(Ids(found->begin(), found->end()), it->second) << piece;
      continue;
    }
    Ids ids;  // some pieces have no ids at all
    for (size_t k = 0; k < piece.size() % 4; ++k) ids.push_back(static_cast<int32_t>(piece.size() * 10 + k + 1000 * tag));
    cache.insert(piece, tag, slot, ids);
    reference.emplace(std::make_pair(piece, tag), ids);
  }
  EXPECT_GT(reference.size(), 1000u);  // the table grew several times
}

TEST(TokenizerBpe, RoundTripIsExactOnRandomText) {
  const Tokenizer gpt2 = gpt2_tokenizer();
  const Tokenizer qwen = Tokenizer::from_hf_files(
      byte_level_tokenizer_json(synthetic_merges(),
                                split_pre_tokenizer(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)")),
      "");
  EXPECT_EQ(qwen.pre_name(), "llama-bpe");
  std::mt19937 rng(42);
  for (int trial = 0; trial < 400; ++trial) {
    const std::string text = trial % 4 == 3 ? test::random_bytes(rng, 1 + trial % 50)  // invalid UTF-8 too
                                            : test::random_unicode_text(rng, 1 + trial % 80);
    for (const Tokenizer* t : {&gpt2, &qwen}) {
      const Ids ids = t->encode(text, false, false);
      ASSERT_EQ(t->decode(ids), text) << "trial " << trial;
      std::string pieces;
      for (const int32_t id : ids) pieces += t->token_to_piece(id);
      ASSERT_EQ(pieces, text);
    }
  }
}

TEST(TokenizerBpe, LongRunsRoundTrip) {
  const Tokenizer t = gpt2_tokenizer();
  for (const std::string& text : {std::string(300000, ' '), std::string(100000, 'x'), std::string(50000, '\n'),
                                  std::string(20000, ' ') + "end"}) {
    const Ids ids = t.encode(text, false);
    EXPECT_EQ(t.decode(ids), text);
  }
  EXPECT_EQ(t.encode(std::string(8, ' '), false), (Ids{268, 268}));  // "    " twice
}

TEST(TokenizerBpe, TokenLookups) {
  const Tokenizer t = gpt2_tokenizer();
  EXPECT_EQ(t.n_vocab(), 277);
  EXPECT_EQ(t.token_id("<tool>"), kTool);
  EXPECT_EQ(t.token_id("\xc4\xa0the"), kSpaceThe);  // U+0120 is the byte-level space
  EXPECT_EQ(t.token_id("nope"), -1);
  EXPECT_EQ(t.token_text(kSpaceThe), "\xc4\xa0the");
  EXPECT_EQ(t.token_to_piece(kSpaceThe), " the");
  EXPECT_EQ(t.bos_id(), -1);
  EXPECT_FALSE(t.add_bos());
}

}  // namespace
}  // namespace edgellm
