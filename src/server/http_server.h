// The HTTP front of `edgellm serve`: OpenAI-compatible routes over a Scheduler.
//   POST /v1/chat/completions, POST /v1/completions (JSON or SSE streams ending in [DONE])
//   GET /v1/models, GET /v1/models/{id}, GET /health, GET /metrics (Prometheus text)
// Every error is an OpenAI error object: 400 malformed JSON / bad field / prompt over the
// context, 401 missing or wrong API key (all routes but /health), 404 unknown model or route,
// 413 body over the size limit, 500 a failure during generation, 503 shutting down.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "chat/chat_template.h"
#include "chat/template_source.h"
#include "server/metrics.h"
#include "server/scheduler.h"

namespace httplib {
class Server;
}
namespace edgellm {
class Tokenizer;
}

namespace edgellm::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;        // empty: no authentication
  std::string model_id;       // the name /v1/models reports and requests must use (or omit)
  size_t max_body_bytes = size_t{8} << 20;
  int http_threads = 0;       // 0: enough for every slot plus waiting and idle connections
  bool log_requests = true;   // one line per request on stderr
};

class HttpServer {
 public:
  // `chat_template`: the model's template (or the default one when the model has none).
  HttpServer(HttpOptions options, Scheduler& scheduler, const Tokenizer& tokenizer,
             const chat::ChatTemplateSource& chat_template, Metrics& metrics);
  ~HttpServer();

  // Binds (port 0 picks a free one); throws edgellm::Error when the address cannot be bound.
  int bind();
  // Serves until stop(); in-flight requests finish before it returns.
  void listen();
  // Stops at once: streams in flight are cut. Safe from any thread.
  void stop();
  // Graceful stop (SIGTERM): new generation requests get 503 at once, requests in flight run to
  // their end (streams to their [DONE]), then the server stops. Blocks until then.
  void shutdown();

 private:
  void add_routes();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgellm::server
