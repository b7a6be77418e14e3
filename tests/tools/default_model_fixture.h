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

#include "cli_runner.h"

namespace default_model_test {

namespace fs = std::filesystem;

using Result = edgellm::test::ShellResult;
using edgellm::test::slurp;

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
    return edgellm::test::run_shell(command, dir_, stdin_text);
  }
  fs::path dir_;
};

}  // namespace default_model_test
