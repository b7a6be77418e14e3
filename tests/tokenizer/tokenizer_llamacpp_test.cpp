// GGUFs written by write_gguf_metadata, tokenized by a real llama.cpp (the npm reference in
// tools/reference/llamacpp, a developer tool): llama.cpp must give the ids we give. Skips when the
// reference is not installed (`bash tools/reference/llamacpp/install.sh`).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

namespace fs = std::filesystem;

const std::string kShared = EDGELLM_SHARED_DIR;
const std::string kVocabTests = kShared + "/tokenizers/vocab-tests/";
const std::string kSource = EDGELLM_SOURCE_DIR;

std::string run(const std::string& command, int* exit_code) {
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class LlamaCppReference : public ::testing::Test {
 protected:
  void SetUp() override {
    int code = 0;
    run("bash " + kSource + "/tools/reference/llamacpp/install.sh --check", &code);
    if (code != 0) GTEST_SKIP() << "llama.cpp reference not installed (bash tools/reference/llamacpp/install.sh)";
    if (!fs::exists(kVocabTests + "ggml-vocab-deepseek-llm.gguf")) GTEST_SKIP() << "../shared is absent";
    dir_ = fs::temp_directory_path() / fmt::format("edgellm_tok_llamacpp_{}", getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // A vocab-only GGUF llama.cpp can load: hyperparameters of the deepseek-llm vocab file (a
  // "llama" architecture), tokenizer metadata from `t`.
  std::string write_gguf(const Tokenizer& t, const std::string& name) {
    const gguf::GgufFile donor = gguf::GgufFile::open(kVocabTests + "ggml-vocab-deepseek-llm.gguf");
    gguf::GgufWriter writer;
    for (const auto& kv : donor.metadata()) {
      if (kv.key.starts_with("tokenizer.")) continue;
      if (kv.key == "llama.vocab_size") {
        writer.set_u32(kv.key, static_cast<uint32_t>(t.n_vocab()));
      } else {
        writer.set(kv.key, kv.value);
      }
    }
    t.write_gguf_metadata(writer);
    const std::string path = (dir_ / name).string();
    writer.write_file(path);
    return path;
  }
  std::string reference(const std::string& args) {
    int code = 0;
    const std::string out = run("node " + kSource + "/tools/reference/llamacpp/llamacpp_ref.mjs " + args, &code);
    EXPECT_EQ(code, 0) << args;
    return out;
  }
  fs::path dir_;
};

TEST_F(LlamaCppReference, Qwen3GgufPassesTheQwen2Cases) {
  const std::string path = write_gguf(load_tokenizer_file(kShared + "/tokenizers/hf/qwen3/tokenizer.json"), "qwen3.gguf");
  const std::string out = reference("vocab-test " + path + " " + kVocabTests + "ggml-vocab-qwen2.gguf.inp " +
                                    kVocabTests + "ggml-vocab-qwen2.gguf.out");
  EXPECT_NE(out.find("47 passed, 0 failed"), std::string::npos) << out;
}

TEST_F(LlamaCppReference, RewrittenGpt2GgufPassesItsCases) {
  const gguf::GgufFile original = gguf::GgufFile::open(kVocabTests + "ggml-vocab-gpt-2.gguf");
  const std::string path = write_gguf(Tokenizer::from_gguf(original), "gpt2.gguf");
  const std::string out = reference("vocab-test " + path + " " + kVocabTests + "ggml-vocab-gpt-2.gguf.inp " +
                                    kVocabTests + "ggml-vocab-gpt-2.gguf.out");
  EXPECT_NE(out.find("47 passed, 0 failed"), std::string::npos) << out;
}

// TinyStories: its tokenizer.json has merges, the GGUF has our scores; llama.cpp merges by score.
TEST_F(LlamaCppReference, TinyStoriesGgufMatches) {
  const Tokenizer t = load_tokenizer_file(kShared + "/models/tinystories-656k/tokenizer.json");
  const std::string path = write_gguf(t, "tiny.gguf");
  std::vector<std::string> words;
  for (int32_t id = 3; id < t.n_vocab(); ++id) words.push_back(t.token_to_piece(id));
  std::mt19937 rng(77);
  std::vector<std::string> texts = {"Once upon a time", "Once upon a time, there was a little girl named Lily.",
                                    "  two spaces", "The end.\n\nThe dog said \"hi!\""};
  for (int i = 0; i < 12; ++i) {
    std::string text;
    for (int w = 0; w < 20; ++w) text += words[std::uniform_int_distribution<size_t>(0, words.size() - 1)(rng)];
    texts.push_back(text);
  }
  for (const std::string& text : texts) {
    std::string expected;
    for (const int32_t id : t.encode(text)) expected.append(expected.empty() ? "" : ",").append(std::to_string(id));
    std::string got = reference("tokenize " + path + " " + quote(text));
    while (!got.empty() && (got.back() == '\n' || got.back() == '\r')) got.pop_back();
    EXPECT_EQ(got, expected) << text;
  }
}

}  // namespace
}  // namespace edgellm
