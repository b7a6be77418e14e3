// The default model's tokenizer: the trainer's pure-Python byte-level BPE encoder
// (tools/train_default_model/bpe.py) and edgellm (from the GGUF and from tokenizer.json) give the
// same ids for held-out KJV text plus edge cases (contractions, CRLF, non-ASCII, emoji).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const fs::path kSource(EDGELLM_SOURCE_DIR);

class DefaultModel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSource / "models/default.gguf")) GTEST_SKIP() << "models/default.gguf is absent";
    dir_ = fs::temp_directory_path() / ("edgellm_default_model_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  Result run(const std::string& command, const std::string& stdin_text = "") {
    const fs::path in = dir_ / "stdin.txt", out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    std::ofstream(in, std::ios::binary) << stdin_text;
    const std::string cmd = command + " < " + in.string() + " > " + out.string() + " 2> " + err.string();
    const int status = std::system(cmd.c_str());
    return {WEXITSTATUS(status), slurp(out), slurp(err)};
  }
  fs::path dir_;
};

TEST_F(DefaultModel, PythonEncoderAndEdgellmTokenizeIdentically) {
  const fs::path sample = kSource / "tests/tools/data/kjv_held_out_sample.txt";
  const fs::path tokenizer = kSource / "models/default-tokenizer/tokenizer.json";
  const Result py = run("/usr/bin/python3 " + (kSource / "tests/tools/default_model_tokenize.py").string() + " " +
                        tokenizer.string() + " " + sample.string());
  ASSERT_EQ(py.exit_code, 0) << py.err;
  auto words = [](const std::string& s) {
    std::istringstream in(s);
    std::string w, joined;
    while (in >> w) joined += w + " ";
    return joined;
  };
  const std::string expected = words(py.out);
  EXPECT_GT(expected.size(), 10000u);
  for (const fs::path& model : {kSource / "models/default.gguf", tokenizer}) {
    const Result cpp =
        run(std::string(EDGELLM_CLI) + " tokenize -m " + model.string() + " -f " + sample.string() + " --no-bos");
    ASSERT_EQ(cpp.exit_code, 0) << cpp.err;
    EXPECT_EQ(words(cpp.out), expected) << model;
  }
}

}  // namespace
