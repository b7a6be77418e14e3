// The server driven by the official `openai` npm client (openai_client.cjs): streaming and
// non-streaming chat, completions, log-probabilities, and the 400/401/404 error paths as the
// client library sees them. The package is installed on first use with
//   npm install --prefix $EDGELLM_NODE_DIR openai@4   (default ~/.cache/edgellm/node)
// The test skips with a message when node/npm are missing or the install fails (no network).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "server_test_util.h"

namespace edgellm::test {
namespace {

std::string node_dir() {
  if (const char* d = std::getenv("EDGELLM_NODE_DIR")) return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/edgellm/node";
}

TEST(OpenAiNodeClient, EndpointsAndErrors) {
  if (run_command("node --version").exit_code != 0 || run_command("npm --version").exit_code != 0)
    GTEST_SKIP() << "node/npm not installed (Debian packages nodejs npm): skipping the openai npm client test";
  const std::string dir = node_dir();
  if (!std::filesystem::exists(dir + "/node_modules/openai/package.json")) {
    std::filesystem::create_directories(dir);
    const CommandResult install =
        run_command("npm install --prefix '" + dir + "' --no-audit --no-fund --loglevel=error openai@4");
    if (install.exit_code != 0)
      GTEST_SKIP() << "could not install the openai npm package into " << dir << ":\n" << install.output;
  }
  server::HttpOptions ho;
  ho.api_key = "test-key";
  TestServer server(TestServer::default_scheduler(), ho);
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  const CommandResult r = run_command("OPENAI_NODE_DIR='" + dir + "' node '" EDGELLM_SOURCE_DIR
                                      "/tests/server/openai_client.cjs' " + url + " tiny test-key");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("OK"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace edgellm::test
