// `edgellm pull`, `edgellm list` and `-m hf://...` against a local fake Hugging Face / HTTPS
// server (fake_hub_server.py, Python's http.server): SHA-256 verification, resume of a partial
// file and of a dropped connection, hash mismatch, 404, a stalled server, no server at all.
// No network: everything is on 127.0.0.1.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "hub/sha256.h"

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
  double seconds;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class PullCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("edgellm_pull_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "root/hf/owner/repo");
    fs::create_directories(dir_ / "root/hf/badhash/repo");
    fs::create_directories(dir_ / "root/files");
    // 300 KB of non-repeating bytes, so a wrongly placed resumed range changes the hash.
    for (int i = 0; i < 300000; ++i) payload_ += static_cast<char>((i * 2654435761u) >> 13);
    for (const char* p : {"root/hf/owner/repo/model.gguf", "root/hf/badhash/repo/model.gguf",
                          "root/files/plain.gguf", "root/files/nosidecar.gguf", "root/files/good.gguf"}) {
      std::ofstream(dir_ / p, std::ios::binary) << payload_;
    }
    std::ofstream(dir_ / "root/files/plain.gguf.sha256")
        << "9c6f2b1e0a7d3c5b8e4f6a2d1c0b9e8f7a6d5c4b3a2e1f0d9c8b7a6e5d4c3b2a  plain.gguf\n";
    edgellm::hub::Sha256 digest;
    digest.update(payload_);
    std::ofstream(dir_ / "root/files/good.gguf.sha256") << digest.hex_digest() << "  good.gguf\n";
    start_server();
  }

  void TearDown() override {
    if (server_pid_ > 0) {
      ::kill(server_pid_, SIGTERM);
      ::waitpid(server_pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  void start_server() {
    const fs::path port_file = dir_ / "port.txt";
    server_pid_ = ::fork();
    ASSERT_GE(server_pid_, 0);
    if (server_pid_ == 0) {
      const std::string script = std::string(EDGELLM_SOURCE_DIR) + "/tests/hub/fake_hub_server.py";
      std::freopen(port_file.c_str(), "w", stdout);
      ::execl("/usr/bin/python3", "python3", script.c_str(), (dir_ / "root").c_str(), (dir_ / "requests.log").c_str(),
              static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    for (int i = 0; i < 200 && port_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::string text = slurp(port_file);
      if (text.starts_with("PORT ") && text.ends_with("\n")) port_ = text.substr(5, text.size() - 6);
    }
    ASSERT_FALSE(port_.empty()) << "the fake hub server did not start";
    base_ = "http://127.0.0.1:" + port_;
  }

  // Runs the CLI with the cache and Hugging Face endpoint pointed at the test's server.
  Result cli(const std::string& args, const std::string& extra_env = "") {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string cmd = "EDGELLM_CACHE=" + (dir_ / "cache").string() + " EDGELLM_HF_ENDPOINT=" + base_ + " " +
                            extra_env + " " + EDGELLM_CLI + " " + args + " > " + out.string() + " 2> " + err.string() +
                            " < /dev/null";
    const auto start = std::chrono::steady_clock::now();
    const int status = std::system(cmd.c_str());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return {WEXITSTATUS(status), slurp(out), slurp(err), seconds};
  }

  fs::path cached(const std::string& rel) { return dir_ / "cache" / rel; }
  std::string requests() { return slurp(dir_ / "requests.log"); }

  fs::path dir_;
  pid_t server_pid_ = -1;
  std::string port_, base_, payload_;
};

TEST_F(PullCli, HuggingFaceFileIsVerifiedCachedAndListed) {
  const Result r = cli("pull hf://owner/repo/model.gguf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path path = cached("hf/owner/repo/model.gguf");
  EXPECT_EQ(r.out, path.string() + "\n");
  EXPECT_EQ(slurp(path), payload_);
  EXPECT_NE(r.err.find("verified"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("100%"), std::string::npos) << "no progress bar: " << r.err;
  EXPECT_FALSE(fs::exists(path.string() + ".part"));

  const Result again = cli("pull hf://owner/repo/model.gguf");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.err.find("already cached"), std::string::npos) << again.err;

  const Result list = cli("list");
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("0.3 MB  hf://owner/repo/model.gguf"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("total in 1 file"), std::string::npos) << list.out;
}

TEST_F(PullCli, PartialFileIsResumedWithARangeRequest) {
  const fs::path part = cached("hf/owner/repo/model.gguf.part");
  fs::create_directories(part.parent_path());
  std::ofstream(part, std::ios::binary) << payload_.substr(0, 120000);
  EXPECT_NE(cli("list").out.find("partial download"), std::string::npos);
  const Result r = cli("pull hf://owner/repo/model.gguf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(slurp(cached("hf/owner/repo/model.gguf")), payload_);
  EXPECT_NE(requests().find("bytes=120000-"), std::string::npos) << requests();
  EXPECT_NE(r.err.find("resumed a partial download"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("verified"), std::string::npos) << r.err;
}

TEST_F(PullCli, DroppedConnectionResumesAndSidecarHashIsChecked) {
  // The sidecar of plain.gguf is wrong on purpose; nosidecar.gguf has none (no check).
  const Result r = cli("pull " + base_ + "/drop/files/nosidecar.gguf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("connection lost"), std::string::npos) << r.err;
  EXPECT_NE(requests().find("bytes=150000-"), std::string::npos) << requests();
  EXPECT_EQ(slurp(cached("url/127.0.0.1:" + port_ + "/drop/files/nosidecar.gguf")), payload_);
  EXPECT_NE(r.err.find("not published"), std::string::npos) << r.err;

  const Result good = cli("pull " + base_ + "/files/good.gguf");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.err.find("verified"), std::string::npos) << good.err;
  EXPECT_NE(requests().find("GET /files/good.gguf.sha256"), std::string::npos) << requests();

  const Result bad = cli("pull " + base_ + "/files/plain.gguf");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("SHA-256 mismatch"), std::string::npos) << bad.err;
}

TEST_F(PullCli, HashMismatchIsAnErrorAndLeavesNothing) {
  const Result r = cli("pull hf://badhash/repo/model.gguf");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("SHA-256 mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::string(64, '0')), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(cached("hf/badhash/repo/model.gguf")));
  EXPECT_FALSE(fs::exists(cached("hf/badhash/repo/model.gguf.part")));
}

TEST_F(PullCli, MissingFileIsAClear404) {
  const Result r = cli("pull hf://owner/repo/missing.gguf");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not found (HTTP 404)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hf://OWNER/REPO/FILE.gguf"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("terminate"), std::string::npos) << r.err;
}

TEST_F(PullCli, StalledServerTimesOutWithinSeconds) {
  const Result r = cli("pull " + base_ + "/stall/files/nosidecar.gguf --stall-timeout 2");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("stalled: no data for 2 s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run the same command again to resume"), std::string::npos) << r.err;
  EXPECT_LT(r.seconds, 10.0);
  // The environment variable sets the same timeout for -m hf://... pulls.
  const Result env = cli("run -m " + base_ + "/stall/files/nosidecar.gguf -p hi", "EDGELLM_STALL_TIMEOUT=1");
  EXPECT_NE(env.err.find("no data for 1 s"), std::string::npos) << env.err;
}

TEST_F(PullCli, UnreachableServerSaysWhatToDo) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const Result r = cli("pull http://127.0.0.1:1/m.gguf");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("cannot reach 127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offline"), std::string::npos) << r.err;
  const Result run = cli("run -m hf://owner/repo/missing.gguf -p hi -n 1");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("HTTP 404"), std::string::npos) << run.err;
}

TEST_F(PullCli, RunWithHfReferencePullsOnFirstUse) {
  const fs::path model = fs::path(EDGELLM_SOURCE_DIR) / "models/default.gguf";
  if (!fs::exists(model)) GTEST_SKIP() << "models/default.gguf is absent";
  fs::copy_file(model, dir_ / "root/hf/owner/repo/tiny.gguf");
  const Result first = cli("run -m hf://owner/repo/tiny.gguf -p \"And God said\" -n 8 --temp 0 -t 1");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("downloading"), std::string::npos) << first.err;
  EXPECT_EQ(slurp(cached("hf/owner/repo/tiny.gguf")), slurp(model));
  const Result second = cli("run -m hf://owner/repo/tiny.gguf -p \"And God said\" -n 8 --temp 0 -t 1");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.err.find("downloading"), std::string::npos) << second.err;
  EXPECT_EQ(second.out, first.out);
}

}  // namespace
