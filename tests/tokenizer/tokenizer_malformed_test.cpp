// Bad input gives an edgellm::Error saying what is wrong, never a crash.
#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_names.h"
#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

namespace key = gguf::key;
using nlohmann::json;

// Runs `f`, expects an edgellm::Error whose message contains `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

std::string byte_level_json() {
  return test::byte_level_tokenizer_json(test::synthetic_merges(), test::gpt2_pre_tokenizer());
}

TEST(TokenizerMalformed, TokenizerJson) {
  expect_error([] { Tokenizer::from_hf_files("{not json", ""); }, "not valid JSON");
  expect_error([] { Tokenizer::from_hf_files("[]", ""); }, "not an object");
  expect_error([] { Tokenizer::from_hf_files("{}", ""); }, "\"model\"");
  expect_error([] { Tokenizer::from_hf_files(R"({"model": {"type": "BPE"}})", ""); }, "\"vocab\"");
  expect_error([] { Tokenizer::from_hf_files(R"({"model": {"type": "Unigram", "vocab": []}})", ""); }, "Unigram");
  expect_error([] { Tokenizer::from_hf_files(R"({"model": {"type": "BPE", "vocab": {}}})", ""); }, "empty");
  expect_error([] { Tokenizer::from_hf_files(R"({"model": {"type": "BPE", "vocab": {"a": -3}}})", ""); }, "valid token id");
  expect_error([] { Tokenizer::from_hf_files(R"({"model": {"type": 7, "vocab": {}}})", ""); }, "unexpected content");
  expect_error([] { Tokenizer::from_hf_files("111e311", ""); }, "not valid JSON");  // number out of range

  json j = json::parse(byte_level_json());
  j["model"]["merges"][0] = 17;
  expect_error([&] { Tokenizer::from_hf_files(j.dump(), ""); }, "merge 0");
  j = json::parse(byte_level_json());
  j["model"]["merges"][1] = "nospace";
  expect_error([&] { Tokenizer::from_hf_files(j.dump(), ""); }, "merge 1");
  j = json::parse(byte_level_json());
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "[a-z]+"}}}, {"behavior", "Isolated"}};
  expect_error([&] { Tokenizer::from_hf_files(j.dump(), ""); }, "unrecognised pre-tokenizer");
  j = json::parse(byte_level_json());
  j["added_tokens"][0]["id"] = 5;  // collides with a byte token
  expect_error([&] { Tokenizer::from_hf_files(j.dump(), ""); }, "already used");
  j = json::parse(byte_level_json());
  j["pre_tokenizer"] = nullptr;
  j["decoder"] = nullptr;
  expect_error([&] { Tokenizer::from_hf_files(j.dump(), ""); }, "neither byte-level");
}

TEST(TokenizerMalformed, TokenizerConfigJson) {
  expect_error([] { Tokenizer::from_hf_files(byte_level_json(), "{oops"); }, "tokenizer_config.json: not valid JSON");
  expect_error([] { Tokenizer::from_hf_files(byte_level_json(), R"({"eos_token": "<nope>"})"); }, "<nope>");
}

TEST(TokenizerMalformed, UnknownIds) {
  const Tokenizer t = Tokenizer::from_hf_files(byte_level_json(), "");
  expect_error([&] { t.decode(std::vector<int32_t>{1, 2, 99999}); }, "99999 is outside the vocabulary");
  expect_error([&] { t.token_to_piece(-1); }, "-1 is outside");
  expect_error([&] { t.token_text(t.n_vocab()); }, "outside");
  EXPECT_FALSE(t.is_end_of_generation(-5));
  EXPECT_FALSE(t.is_end_of_generation(1 << 30));
}

// A GGUF with tokenizer metadata from the synthetic SentencePiece vocabulary, then edited.
class GgufTokenizerMetadata : public ::testing::Test {
 protected:
  void SetUp() override {
    const Tokenizer t = Tokenizer::from_hf_files(test::sentencepiece_tokenizer_json(), "");
    t.write_gguf_metadata(writer_);
  }
  void expect_load_error(const std::string& needle) {
    const std::vector<uint8_t> bytes = writer_.write_buffer();
    const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
    expect_error([&] { Tokenizer::from_gguf(file); }, needle);
  }
  gguf::GgufWriter writer_;
};

TEST_F(GgufTokenizerMetadata, LoadsUnchanged) {
  const std::vector<uint8_t> bytes = writer_.write_buffer();
  const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
  EXPECT_EQ(Tokenizer::from_gguf(file).n_vocab(), 275);
}

TEST_F(GgufTokenizerMetadata, ScoresOfAnotherLength) {
  writer_.set_f32_array(key::kTokenizerScores, std::vector<float>(10, 0.0f));
  expect_load_error("tokenizer.ggml.scores has 10 entries but tokenizer.ggml.tokens has 275");
}

TEST_F(GgufTokenizerMetadata, TokenTypesOfAnotherLength) {
  writer_.set_i32_array(key::kTokenizerTokenType, std::vector<int32_t>(300, 1));
  expect_load_error("tokenizer.ggml.token_type has 300 entries");
}

TEST_F(GgufTokenizerMetadata, BadTokenType) {
  std::vector<int32_t> types(275, 1);
  types[12] = 42;
  writer_.set_i32_array(key::kTokenizerTokenType, types);
  expect_load_error("tokenizer.ggml.token_type[12] = 42");
}

TEST_F(GgufTokenizerMetadata, UnknownModel) {
  writer_.set_string(key::kTokenizerModel, "bert");
  expect_load_error("\"bert\" is not supported");
}

TEST_F(GgufTokenizerMetadata, MissingModel) {
  writer_.remove(key::kTokenizerModel);
  expect_load_error("no tokenizer.ggml.model");
}

TEST_F(GgufTokenizerMetadata, MissingTokens) {
  writer_.remove(key::kTokenizerTokens);
  expect_load_error("no tokenizer.ggml.tokens");
}

TEST_F(GgufTokenizerMetadata, TokensOfWrongType) {
  writer_.set_u32(key::kTokenizerTokens, 7);
  try {
    const std::vector<uint8_t> bytes = writer_.write_buffer();
    const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
    Tokenizer::from_gguf(file);
    ADD_FAILURE() << "no error";
  } catch (const Error&) {
  }
}

TEST_F(GgufTokenizerMetadata, DuplicateToken) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 275; ++i) tokens.push_back(fmt::format("t{}", i));
  tokens[200] = "t100";
  writer_.set_string_array(key::kTokenizerTokens, tokens);
  expect_load_error("duplicate token \"t100\"");
}

TEST_F(GgufTokenizerMetadata, ByteLevelWithoutMergesOrWithUnknownPre) {
  writer_.set_string(key::kTokenizerModel, "gpt2");
  writer_.remove(key::kTokenizerScores);
  expect_load_error("has no tokenizer.ggml.merges");
  writer_.set_string_array(key::kTokenizerMerges, {"a b", "broken"});
  expect_load_error("merge 1 (\"broken\")");
  writer_.set_string_array(key::kTokenizerMerges, {"a b"});
  writer_.set_string(key::kTokenizerPre, "klingon");
  expect_load_error("unknown pre-tokenizer \"klingon\"");
}

TEST_F(GgufTokenizerMetadata, AddBosWithoutBos) {
  writer_.set_u32(key::kTokenizerBosId, 100000);  // out of range: ignored with a warning
  writer_.set_bool(key::kTokenizerAddBos, true);
  writer_.set_u32(key::kTokenizerEosId, 2);
  const std::vector<uint8_t> bytes = writer_.write_buffer();
  const gguf::GgufFile file = gguf::GgufFile::from_buffer(bytes);
  // llama's default BOS (1) stays in force.
  EXPECT_EQ(Tokenizer::from_gguf(file).bos_id(), 1);
}

}  // namespace
}  // namespace edgellm
