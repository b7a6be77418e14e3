// `edgellm tokenize` / `edgellm detokenize` on synthetic tokenizer files in a temporary folder.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code;
  std::string out;
};

CommandResult run(const std::string& args) {
  const std::string command = std::string(EDGELLM_CLI) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  std::string out;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

void write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

class TokenizerCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("edgellm_tok_cli_{}", getpid());
    fs::create_directories(dir_ / "bpe");
    fs::create_directories(dir_ / "spm");
    write(dir_ / "bpe" / "tokenizer.json", test::byte_level_tokenizer_json(test::synthetic_merges(), test::gpt2_pre_tokenizer()));
    write(dir_ / "spm" / "tokenizer.json", test::sentencepiece_tokenizer_json());
    write(dir_ / "spm" / "tokenizer_config.json", test::sentencepiece_config_json());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(TokenizerCli, TokenizesPromptAndFile) {
  EXPECT_EQ(run("tokenize -m " + path("bpe/tokenizer.json") + " -p 'the cat'").out, "116 257 32 99 264\n");
  // The config beside tokenizer.json turns BOS on.
  EXPECT_EQ(run("tokenize -m " + path("spm/tokenizer.json") + " -p 'abc de'").out, "1 269 271\n");
  EXPECT_EQ(run("tokenize -m " + path("spm/tokenizer.json") + " --no-bos -p 'abc de'").out, "269 271\n");
  // -f: the file's bytes exactly, trailing newline included (byte 10 is its own token here).
  write(dir_ / "in.txt", "the\n");
  EXPECT_EQ(run("tokenize -m " + path("bpe/tokenizer.json") + " -f " + path("in.txt")).out, "116 257 10\n");
  EXPECT_EQ(run("tokenize -m " + path("bpe/tokenizer.json") + " --special -p 'a<|endoftext|>'").out, "97 275\n");
  write(dir_ / "tab.txt", "the\tx");
  EXPECT_EQ(run("tokenize -m " + path("bpe/tokenizer.json") + " --pieces -f " + path("tab.txt")).out,
            "116\tt\n257\the\n9\t\\t\n120\tx\n");
}

TEST_F(TokenizerCli, DetokenizeReversesTokenize) {
  const std::string text = "Grüße, 世界!\n  tabs\there\n";
  write(dir_ / "text.txt", text);
  const CommandResult ids = run("tokenize -m " + path("bpe/tokenizer.json") + " -f " + path("text.txt"));
  ASSERT_EQ(ids.exit_code, 0) << ids.out;
  write(dir_ / "ids.txt", ids.out);
  EXPECT_EQ(run("detokenize -m " + path("bpe/tokenizer.json") + " -f " + path("ids.txt")).out, text);
  EXPECT_EQ(run("detokenize -m " + path("spm/tokenizer.json") + " --ids '1 269 271'").out, "<s> abc de");
  EXPECT_EQ(run("detokenize -m " + path("spm/tokenizer.json") + " --skip-special --ids '1,269,271'").out, "abc de");
}

TEST_F(TokenizerCli, ErrorsAreReported) {
  CommandResult r = run("tokenize -m " + path("missing.json") + " -p x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("missing.json"), std::string::npos) << r.out;
  write(dir_ / "broken.json", "{\"model\": 3");
  r = run("tokenize -m " + path("broken.json") + " -p x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("not valid JSON"), std::string::npos) << r.out;
  r = run("detokenize -m " + path("bpe/tokenizer.json") + " --ids '1 99999'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("99999 is outside the vocabulary"), std::string::npos) << r.out;
  r = run("detokenize -m " + path("bpe/tokenizer.json") + " --ids '1 x2'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"x2\" is not a token id"), std::string::npos) << r.out;
  r = run("tokenize -m " + path("bpe/tokenizer.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("-p TEXT or -f FILE"), std::string::npos) << r.out;
  write(dir_ / "not.gguf", "GGUF but not really");
  r = run("tokenize -m " + path("not.gguf") + " -p x");
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

}  // namespace
}  // namespace edgellm
