// The fixture of the default-model tests: skips when models/default.gguf is absent, runs shell
// commands in a scratch directory and captures their exit code, stdout and stderr.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace default_model_test {

namespace fs = std::filesystem;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline const fs::path kSource(EDGELLM_SOURCE_DIR);

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

}  // namespace default_model_test
