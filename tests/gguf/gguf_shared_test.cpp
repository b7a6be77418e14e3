// Real files written by llama.cpp (../shared/tokenizers/vocab-tests): the reader must open them
// and find known facts, and the writer must reproduce their metadata byte for byte.
#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"

namespace edgellm::gguf {
namespace {

std::string vocab_path(const char* name) {
  return std::string(EDGELLM_SHARED_DIR) + "/tokenizers/vocab-tests/" + name;
}

std::string absent(const std::string& path) {
  return "shared reference file " + path + " is absent (needs ../shared beside the repository)";
}

// Deep equality, with floats compared bit for bit (NaN payloads included).
bool same_value(const Value& a, const Value& b) {
  if (a.type() != b.type()) return false;
  if (const Array* x = std::get_if<Array>(&a.data)) {
    const Array& y = std::get<Array>(b.data);
    if (x->element_type() != y.element_type() || x->size() != y.size()) return false;
    for (size_t i = 0; i < x->size(); ++i)
      if (!same_value(x->at(i), y.at(i))) return false;
    return true;
  }
  // Scalars and strings: same payload bytes.
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return x == std::get<std::string>(b.data);
        else if constexpr (std::is_same_v<T, Array>) return false;  // handled above
        else return std::memcmp(&x, &std::get<T>(b.data), sizeof(T)) == 0;
      },
      a.data);
}

TEST(GgufShared, Gpt2VocabFacts) {
  const std::string path = vocab_path("ggml-vocab-gpt-2.gguf");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << absent(path);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_string(key::kArchitecture), "gpt2");
  EXPECT_EQ(f.get_string(key::kTokenizerModel), "gpt2");
  EXPECT_EQ(f.get_string(key::kTokenizerPre), "gpt-2");
  const auto tokens = f.get_string_array(key::kTokenizerTokens);
  ASSERT_EQ(tokens.size(), 50257u);
  EXPECT_EQ(tokens[0], "!");
  EXPECT_EQ(tokens[50256], "<|endoftext|>");
  EXPECT_EQ(f.get_string_array(key::kTokenizerMerges).size(), 50000u);
  EXPECT_EQ(f.get_int_array(key::kTokenizerTokenType).size(), 50257u);
  EXPECT_EQ(f.get_int(key::kTokenizerEosId), 50256);
  EXPECT_EQ(f.get_int(arch_key("gpt2", key::kBlockCount)), 12);
  EXPECT_TRUE(f.tensors().empty());
}

TEST(GgufShared, DeepseekVocabFacts) {
  const std::string path = vocab_path("ggml-vocab-deepseek-llm.gguf");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << absent(path);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.get_string(key::kArchitecture), "llama");
  EXPECT_EQ(f.get_string(key::kTokenizerModel), "gpt2");
  EXPECT_EQ(f.get_string(key::kTokenizerPre), "deepseek-llm");
  EXPECT_EQ(f.get_string_array(key::kTokenizerTokens).size(), 102400u);
  EXPECT_EQ(f.get_int(arch_key("llama", key::kVocabSize)), 102400);
  EXPECT_EQ(f.get_int(key::kTokenizerBosId), 100000);
  EXPECT_EQ(f.get_int(key::kTokenizerEosId), 100001);
  EXPECT_EQ(f.get_float(arch_key("llama", key::kRopeFreqBase)), 10000.0);
}

// Metadata read from a llama.cpp file and written back must come out byte-identical: llama.cpp
// wrote header and key/values exactly as our writer does. The only difference allowed is the
// zero padding our writer adds after the (empty) tensor table, up to the alignment.
TEST(GgufShared, RewriteReproducesMetadataExactly) {
  for (const char* name : {"ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-llm.gguf"}) {
    SCOPED_TRACE(name);
    const std::string path = vocab_path(name);
    if (!std::filesystem::exists(path)) GTEST_SKIP() << absent(path);
    const GgufFile original = GgufFile::open(path);
    GgufWriter w;
    for (const KeyValue& kv : original.metadata()) w.set(kv.key, kv.value);
    const std::vector<uint8_t> rewritten = w.write_buffer();

    const auto src = original.bytes();
    ASSERT_GE(rewritten.size(), src.size());
    ASSERT_LT(rewritten.size() - src.size(), original.alignment());
    EXPECT_TRUE(std::equal(src.begin(), src.end(), rewritten.begin())) << "bytes differ";
    for (size_t i = src.size(); i < rewritten.size(); ++i) ASSERT_EQ(rewritten[i], 0) << i;

    const GgufFile reread = GgufFile::from_buffer(rewritten);
    ASSERT_EQ(reread.metadata().size(), original.metadata().size());
    for (size_t i = 0; i < original.metadata().size(); ++i) {
      EXPECT_EQ(reread.metadata()[i].key, original.metadata()[i].key);
      EXPECT_TRUE(same_value(reread.metadata()[i].value, original.metadata()[i].value))
          << original.metadata()[i].key;
    }
  }
}

}  // namespace
}  // namespace edgellm::gguf
