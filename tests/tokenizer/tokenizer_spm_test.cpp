// SentencePiece-style BPE on a small synthetic vocabulary with byte fallback: hand-derived
// encodings, the leading-space rule, special tokens, GGUF round trip, streaming decode.
#include <random>

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

using Ids = std::vector<int32_t>;

// Ids of test::sentencepiece_tokenizer_json().
constexpr int32_t kUnk = 0, kBos = 1, kEos = 2, kMeta = 259, kA = 260, kB = 261, kEAcute = 266;
constexpr int32_t kMetaA = 267, kMetaAbc = 269, kMetaDe = 271;
constexpr int32_t byte_token(int b) { return 3 + b; }

Tokenizer spm_tokenizer() {
  return Tokenizer::from_hf_files(test::sentencepiece_tokenizer_json(), test::sentencepiece_config_json());
}

TEST(TokenizerSpm, HandDerivedEncodings) {
  const Tokenizer t = spm_tokenizer();
  EXPECT_STREQ(t.model_name(), "llama");
  EXPECT_EQ(t.bos_id(), kBos);
  EXPECT_EQ(t.eos_id(), kEos);
  EXPECT_TRUE(t.add_bos());
  EXPECT_FALSE(t.add_eos());
  EXPECT_EQ(t.chat_template(), "{{ messages }}");
  // "▁abc▁de": ▁a (score 0) > bc (-1) > ▁abc (-2) > de (-3) > ▁de (-4).
  EXPECT_EQ(t.encode("abc de"), (Ids{kBos, kMetaAbc, kMetaDe}));
  EXPECT_EQ(t.encode("abc de", false), (Ids{kMetaAbc, kMetaDe}));
  // Characters outside the vocabulary fall back to their UTF-8 bytes.
  EXPECT_EQ(t.encode("\xc3\xa9!", false), (Ids{kMeta, kEAcute, byte_token('!')}));
  EXPECT_EQ(t.encode("\xf0\x9f\x98\x80", false),  // 😀
            (Ids{kMeta, byte_token(0xF0), byte_token(0x9F), byte_token(0x98), byte_token(0x80)}));
  // "▁▁a": ▁a (0) beats ▁▁ (-6).
  EXPECT_EQ(t.encode(" a", false), (Ids{kMeta, kMetaA}));
  EXPECT_EQ(t.encode("", true), (Ids{kBos}));
  EXPECT_EQ(t.encode("", false), Ids{});
}

TEST(TokenizerSpm, ControlTextIsPlainTextUnlessParsed) {
  const Tokenizer t = spm_tokenizer();
  EXPECT_EQ(t.encode("<s>", false, false), (Ids{kMeta, byte_token('<'), byte_token('s'), byte_token('>')}));
  EXPECT_EQ(t.encode("<s>", false, true), (Ids{kBos}));
  // A space prefix follows every special token, as in llama.cpp.
  EXPECT_EQ(t.encode("a</s>b", false, true), (Ids{kMetaA, kEos, kMeta, kB}));
  EXPECT_EQ(t.encode("<0x41>", false, false).size(), 7u);  // never the byte token <0x41>
}

TEST(TokenizerSpm, DecodeStripsTheAddedSpaceOnly) {
  const Tokenizer t = spm_tokenizer();
  EXPECT_EQ(t.decode(Ids{kBos, kMetaAbc, kMetaDe}, true), "abc de");
  EXPECT_EQ(t.decode(Ids{kBos, kMetaAbc, kMetaDe}, false), "<s> abc de");  // like Hugging Face
  EXPECT_EQ(t.decode(Ids{kMeta, kMetaA}), " a");
  EXPECT_EQ(t.token_to_piece(kMetaAbc), " abc");
  EXPECT_EQ(t.token_to_piece(byte_token(0x41)), "A");
  EXPECT_EQ(t.token_to_piece(kUnk), "<unk>");
  EXPECT_TRUE(t.is_special(kUnk));
}

TEST(TokenizerSpm, RoundTripOnRandomText) {
  const Tokenizer t = spm_tokenizer();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    const std::string text = test::random_unicode_text(rng, 1 + trial % 60);
    const Ids ids = t.encode(text, true);
    ASSERT_EQ(ids.front(), kBos);
    ASSERT_EQ(t.decode(ids, true), text) << "trial " << trial;
  }
}

TEST(TokenizerSpm, InvalidUtf8RoundTrips) {
  const Tokenizer t = spm_tokenizer();
  // A truncated 4-byte lead before a space must not swallow the escaped space (found by fuzzing).
  for (const std::string& text : {std::string("\xf0-\x20\x00\xff", 5), std::string("\xf0 a"), std::string("\xe4\xbd a")}) {
    EXPECT_EQ(t.decode(t.encode(text), true), text);
  }
  std::mt19937 rng(13);
  for (int trial = 0; trial < 300; ++trial) {
    const std::string text = test::random_bytes(rng, 1 + trial % 30);
    if (text.find(unicode::kMetaspace) != std::string::npos) continue;  // indistinguishable from a space
    ASSERT_EQ(t.decode(t.encode(text), true), text);
  }
}

TEST(TokenizerSpm, UnknownTokenWithoutByteTokens) {
  // Drop the byte tokens: unknown characters become <unk>, one per run (Hugging Face fuse_unk).
  nlohmann::json j = nlohmann::json::parse(test::sentencepiece_tokenizer_json());
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto& [text, id] : j["model"]["vocab"].items()) {
    if (!text.starts_with("<0x")) vocab[text] = id.get<int>() < 3 ? id.get<int>() : id.get<int>() - 256;
  }
  j["model"]["vocab"] = vocab;
  const Tokenizer t = Tokenizer::from_hf_files(j.dump(), "");
  EXPECT_EQ(t.encode("a!?b", false), (Ids{kMetaA - 256, kUnk, kB - 256}));
  // Repeated pieces come from the per-call cache; the fusion must still hold across them.
  EXPECT_EQ(t.encode("a!?!?b!", false), (Ids{kMetaA - 256, kUnk, kB - 256, kUnk}));
}

TEST(TokenizerSpm, GgufRoundTripKeepsEverything) {
  const Tokenizer t = spm_tokenizer();
  const test::GgufRoundTrip rt(t);
  const Tokenizer& g = rt.tokenizer;
  EXPECT_EQ(rt.file.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(rt.file.get_int_array("tokenizer.ggml.token_type")[kUnk], 2);
  EXPECT_EQ(rt.file.get_int_array("tokenizer.ggml.token_type")[kBos], 3);
  EXPECT_EQ(rt.file.get_int_array("tokenizer.ggml.token_type")[byte_token(7)], 6);
  EXPECT_EQ(rt.file.get_int_array("tokenizer.ggml.token_type")[kA], 1);
  EXPECT_EQ(rt.file.find("tokenizer.ggml.merges"), nullptr);
  EXPECT_EQ(g.n_vocab(), t.n_vocab());
  EXPECT_EQ(g.bos_id(), kBos);
  EXPECT_EQ(g.eos_id(), kEos);
  EXPECT_TRUE(g.add_bos());
  EXPECT_EQ(g.chat_template(), t.chat_template());
  std::mt19937 rng(9);
  for (int trial = 0; trial < 200; ++trial) {
    const std::string text = test::random_unicode_text(rng, 1 + trial % 40);
    ASSERT_EQ(g.encode(text), t.encode(text));
  }
}

TEST(TokenizerSpm, PadVocab) {
  Tokenizer t = spm_tokenizer();
  const int32_t n = t.n_vocab();
  t.pad_vocab_to(n + 3);
  EXPECT_EQ(t.n_vocab(), n + 3);
  EXPECT_EQ(t.token_text(n + 2), fmt::format("[PAD{}]", n + 2));
  EXPECT_EQ(t.token_to_piece(n + 1), "");
  EXPECT_EQ(t.encode("abc de"), (Ids{kBos, kMetaAbc, kMetaDe}));
}

// Multi-byte characters split over byte-fallback tokens: nothing is emitted until the
// character is complete, and the output is always valid UTF-8.
TEST(StreamDecoder, HoldsBackIncompleteCharacters) {
  const Tokenizer t = spm_tokenizer();
  StreamDecoder d(t);
  EXPECT_EQ(d.push(kMetaA), " a");
  EXPECT_EQ(d.push(byte_token(0xF0)), "");
  EXPECT_EQ(d.push(byte_token(0x9F)), "");
  EXPECT_EQ(d.push(byte_token(0x98)), "");
  EXPECT_EQ(d.push(byte_token(0x80)), "\xf0\x9f\x98\x80");
  EXPECT_EQ(d.push(byte_token(0xE4)), "");
  EXPECT_EQ(d.push(byte_token(0xBD)), "");
  EXPECT_EQ(d.push(byte_token(0xA0)), "\xe4\xbd\xa0");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, InvalidBytesBecomeReplacementCharacters) {
  const Tokenizer t = spm_tokenizer();
  StreamDecoder d(t);
  EXPECT_EQ(d.push(byte_token(0xFF)), "\xef\xbf\xbd");      // can never start a character
  EXPECT_EQ(d.push(byte_token(0xE4)), "");                  // might start one
  EXPECT_EQ(d.push(kA), "\xef\xbf\xbd" "a");                // ... but did not
  EXPECT_EQ(d.push(byte_token(0xED)), "");
  EXPECT_EQ(d.push(byte_token(0xA0)), "\xef\xbf\xbd\xef\xbf\xbd");  // would be a surrogate
  EXPECT_EQ(d.push(byte_token(0xC3)), "");
  EXPECT_EQ(d.flush(), "\xef\xbf\xbd");  // unfinished at the end
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, ConcatenationEqualsDecodeOnRandomText) {
  const Tokenizer t = spm_tokenizer();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const std::string text = test::random_unicode_text(rng, 1 + trial % 50);
    StreamDecoder d(t);
    std::string streamed;
    for (const int32_t id : t.encode(text, false)) {
      const std::string chunk = d.push(id);
      ASSERT_EQ(unicode::complete_utf8_prefix(chunk), chunk.size());
      ASSERT_EQ(unicode::sanitize_utf8(chunk), chunk);
      streamed += chunk;
    }
    streamed += d.flush();
    ASSERT_EQ(streamed, " " + text);  // the stream keeps the added leading space
  }
}

TEST(StreamDecoder, RejectsUnknownIds) {
  const Tokenizer t = spm_tokenizer();
  StreamDecoder d(t);
  EXPECT_THROW(d.push(t.n_vocab()), Error);
  EXPECT_THROW(d.push(-1), Error);
}

}  // namespace
}  // namespace edgellm
