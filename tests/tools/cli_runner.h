// Runs a shell command for the CLI tests: stdin from a string, stdout and stderr captured
// separately (through files in a scratch directory, so large outputs cannot dead-lock a pipe).
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace edgellm::test {

struct ShellResult {
  int exit_code;  // -1 when the command did not exit normally
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline ShellResult run_shell(const std::string& command, const std::filesystem::path& dir,
                             const std::string& stdin_text = "") {
  const auto in = dir / "stdin.txt", out = dir / "stdout.txt", err = dir / "stderr.txt";
  std::ofstream(in, std::ios::binary) << stdin_text;
  const std::string cmd = command + " < " + in.string() + " > " + out.string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

}  // namespace edgellm::test
