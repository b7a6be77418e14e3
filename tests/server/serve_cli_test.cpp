// `edgellm serve` as a process: it starts, logs one line per request, and on SIGTERM stops
// accepting while a request in flight still streams to its end, then exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "server_test_util.h"

namespace edgellm::test {
namespace {

class ServeProcess {
 public:
  explicit ServeProcess(const std::string& model) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      if (model.empty()) {  // the bundled default model
        execl(EDGELLM_CLI, "edgellm", "serve", "--port", "0", "-t", "1", "--alias", "cli", static_cast<char*>(nullptr));
      } else {
        execl(EDGELLM_CLI, "edgellm", "serve", "-m", model.c_str(), "--port", "0", "-t", "1", "--alias", "cli",
              static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    close(fds[1]);
    err_ = fdopen(fds[0], "r");
    char line[1024];
    while (std::fgets(line, sizeof line, err_)) {
      log_ += line;
      std::smatch m;
      const std::string s = line;
      if (std::regex_search(s, m, std::regex("listening on http://127\\.0\\.0\\.1:(\\d+)"))) {
        port_ = std::stoi(m[1]);
        break;
      }
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (err_) std::fclose(err_);
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Waits up to `seconds` for the exit; returns the exit code (-1: killed or still running).
  int wait_exit(int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        char line[1024];
        while (std::fgets(line, sizeof line, err_)) log_ += line;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  FILE* err_ = nullptr;
  int port_ = 0;
  bool exited_ = false;
  std::string log_;
};

TEST(ServeCli, SigtermFinishesTheRequestInFlight) {
  std::signal(SIGPIPE, SIG_IGN);
  ServeProcess server(tiny_server_model_path());
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_NE(server.log().find("no chat template"), std::string::npos) << server.log();
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  EXPECT_EQ(c.Get("/health")->status, 200);

  // A long stream; SIGTERM arrives after its first chunk.
  std::string body;
  bool sent_signal = false;
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.headers = {{"Content-Type", "application/json"}};
  req.body = R"({"model":"cli","prompt":"Once","max_tokens":150,"temperature":0,"stream":true,
                 "stop":["never-generated-stop-string"]})";
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    body.append(data, n);
    if (!sent_signal) {
      kill(server.pid(), SIGTERM);
      sent_signal = true;
    }
    return true;
  };
  const httplib::Result r = c.send(req);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  bool done = false;
  const auto events = sse_events(body, done);
  EXPECT_TRUE(done) << "the stream was cut by the shutdown";
  EXPECT_GE(events.size(), 1u);
  EXPECT_EQ(server.wait_exit(30), 0) << server.log();
  EXPECT_NE(server.log().find("request 2 /v1/completions status 200"), std::string::npos) << server.log();
  EXPECT_NE(server.log().find("serve: stopped"), std::string::npos) << server.log();
}

TEST(ServeCli, WithoutModelFlagServesTheBundledModelForCompletions) {
  std::signal(SIGPIPE, SIG_IGN);
  unsetenv("EDGELLM_DEFAULT_MODEL");  // the source tree's models/default.gguf
  ServeProcess server("");
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_NE(server.log().find("using the bundled default model"), std::string::npos) << server.log();
  EXPECT_NE(server.log().find("served as a completion model"), std::string::npos) << server.log();
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  const auto r = c.Post("/v1/completions", R"({"model":"cli","prompt":"And God said","max_tokens":8,"temperature":0})",
                        "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto body = nlohmann::json::parse(r->body);
  EXPECT_FALSE(body["choices"][0]["text"].get<std::string>().empty()) << r->body;
  EXPECT_GT(body["usage"]["completion_tokens"].get<int>(), 0) << r->body;
  EXPECT_LE(body["usage"]["completion_tokens"].get<int>(), 8) << r->body;
  kill(server.pid(), SIGTERM);
  EXPECT_EQ(server.wait_exit(30), 0) << server.log();
}

TEST(ServeCli, BadModelPathFailsClearly) {
  const CommandResult r = run_command(std::string(EDGELLM_CLI) + " serve -m /nonexistent/model.gguf --port 0");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/model.gguf"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace edgellm::test
