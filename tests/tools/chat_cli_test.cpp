// `edgellm chat` end to end on the real TinyStories model: two turns through the template,
// greedy replies, the default-template notice, and clean errors.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli_runner.h"

namespace {

namespace fs = std::filesystem;

using Result = edgellm::test::ShellResult;

Result run(const std::string& args, const std::string& stdin_text, const fs::path& dir) {
  return edgellm::test::run_shell(std::string(EDGELLM_CLI) + " " + args, dir, stdin_text);
}

class ChatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path hf = fs::path(EDGELLM_SHARED_DIR) / "models/tinystories-656k";
    if (!fs::exists(hf / "model.safetensors")) GTEST_SKIP() << "../shared/models/tinystories-656k is absent";
    dir_ = fs::temp_directory_path() / ("edgellm_chat_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    model_ = dir_ / "ts.gguf";
    const Result r = run("convert " + hf.string() + " " + model_.string() + " --type f32", "", dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_, model_;
};

TEST_F(ChatCli, TwoTurnsWithDefaultTemplateAreDeterministic) {
  const std::string args = "chat -m " + model_.string() + " --temp 0 -n 24 -t 1";
  const Result a = run(args, "Tell me a story\nWhat happened next?\n", dir_);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.err.find("no chat template"), std::string::npos) << a.err;
  // One reply line (or more) per turn, and real text from the model.
  EXPECT_GE(std::count(a.out.begin(), a.out.end(), '\n'), 2) << a.out;
  EXPECT_GT(a.out.size(), 10u);
  const Result b = run(args, "Tell me a story\nWhat happened next?\n", dir_);
  EXPECT_EQ(a.out, b.out);  // greedy: the same conversation gives the same replies
}

TEST_F(ChatCli, ExitCommandAndEmptyInputEndCleanly) {
  const Result r = run("chat -m " + model_.string() + " --temp 0 -n 8 -t 1", "\n/exit\nnot read\n", dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(ChatCli, BadArgumentsFailWithMessage) {
  Result r = run("chat -m " + (dir_ / "missing.gguf").string(), "hi\n", dir_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  r = run("chat -m " + model_.string() + " -n 0", "hi\n", dir_);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("-n 0"), std::string::npos) << r.err;
}

}  // namespace
