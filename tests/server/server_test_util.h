// An in-process `edgellm serve` on a tiny random qwen2 model (byte-level tokenizer, no chat
// template, so the default ChatML template is used) listening on a free loopback port, plus
// small HTTP helpers.
#pragma once

#include <httplib.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/template_source.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "runtime/thread_pool.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::test {

inline TinyGgufOptions server_model_options() {
  TinyGgufOptions o;
  o.arch = "qwen2";
  o.qkv_bias = true;
  o.n_embd = 64, o.n_layer = 2, o.n_ff = 128, o.n_head = 4, o.n_head_kv = 2, o.n_vocab = 300, o.n_ctx = 256;
  o.with_tokenizer = true;
  return o;
}

// Files removed when the test process exits (so per-process models do not pile up in /tmp).
struct TempFilesRemovedAtExit {
  std::vector<std::string> paths;
  ~TempFilesRemovedAtExit() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};

// Writes the tiny model (weights of `type`) once per process and returns its path.
inline std::string tiny_server_model_path(TensorType type = TensorType::F32) {
  static TempFilesRemovedAtExit written;
  const std::string p = ::testing::TempDir() + "edgellm_server_tiny_" + std::to_string(static_cast<int>(type)) + "_" +
                        std::to_string(getpid()) + ".gguf";
  if (!std::ifstream(p)) {
    written.paths.push_back(p);
    TinyGgufOptions o = server_model_options();
    o.weight_type = type;
    const std::vector<uint8_t> bytes = make_tiny_gguf(o);
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  return p;
}

class TestServer {
 public:
  explicit TestServer(server::SchedulerOptions so = default_scheduler(), server::HttpOptions ho = {},
                      TensorType weight_type = TensorType::F32)
      : model_(model::Model::load(tiny_server_model_path(weight_type))),
        tokenizer_(Tokenizer::from_gguf(model_->file())),
        pool_(2) {
    std::signal(SIGPIPE, SIG_IGN);
    ho.port = 0;
    ho.log_requests = false;
    if (ho.model_id.empty()) ho.model_id = "tiny";
    scheduler_ = std::make_unique<server::Scheduler>(*model_, tokenizer_, pool_, so, metrics_);
    http_ = std::make_unique<server::HttpServer>(ho, *scheduler_, tokenizer_, chat::chat_template_from_gguf(model_->file()),
                                                 metrics_);
    port_ = http_->bind();
    thread_ = std::thread([this] { http_->listen(); });
  }
  ~TestServer() {
    http_->stop();
    thread_.join();
    scheduler_->stop();
  }

  static server::SchedulerOptions default_scheduler() {
    server::SchedulerOptions o;
    o.parallel = 4;
    o.n_ctx = 256;
    return o;
  }

  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  server::Scheduler& scheduler() { return *scheduler_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  const model::Model& model() const { return *model_; }

 private:
  std::unique_ptr<model::Model> model_;
  Tokenizer tokenizer_;
  runtime::ThreadPool pool_;
  server::Metrics metrics_;
  std::unique_ptr<server::Scheduler> scheduler_;
  std::unique_ptr<server::HttpServer> http_;
  int port_ = 0;
  std::thread thread_;
};

// The JSON payloads of an SSE body ("data: ..." events), without the final [DONE]; sets
// `done` when [DONE] was seen.
inline std::vector<nlohmann::json> sse_events(const std::string& body, bool& done) {
  std::vector<nlohmann::json> out;
  done = false;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    const std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind("data: ", 0) != 0) continue;
    const std::string data = event.substr(6);
    if (data == "[DONE]") done = true;
    else out.push_back(nlohmann::json::parse(data));
  }
  return out;
}

// POSTs a streaming request and returns the raw SSE body.
inline std::string post_stream(httplib::Client& client, const std::string& path, const std::string& body, int* status) {
  std::string out;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.headers = {{"Content-Type", "application/json"}};
  req.content_receiver = [&out](const char* data, size_t n, uint64_t, uint64_t) {
    out.append(data, n);
    return true;
  };
  const httplib::Result r = client.send(req);
  if (status) *status = r ? r->status : -1;
  return out;
}

}  // namespace edgellm::test
