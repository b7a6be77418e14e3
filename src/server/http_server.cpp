#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "core/error.h"
#include "server/openai_api.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::server {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& type,
                const std::string& param = {}) {
  send_json(res, status, error_body(message, type, param));
}

std::string sse(const json& body) { return "data: " + dump_json(body) + "\n\n"; }

// What one request did, for its log line.
struct RequestRecord {
  uint64_t id = 0;
  std::string endpoint;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  Clock::time_point start = Clock::now();
};

void log_request(const RequestRecord& r, int status) {
  const double seconds = std::chrono::duration<double>(Clock::now() - r.start).count();
  std::fprintf(stderr, "request %llu %s status %d tokens in %lld (cached %lld) out %lld time %.3f s\n",
               static_cast<unsigned long long>(r.id), r.endpoint.c_str(), status,
               static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.cached_tokens),
               static_cast<long long>(r.completion_tokens), seconds);
}

// State of one streamed response, shared by httplib's content provider and its releaser.
struct StreamState {
  std::shared_ptr<RequestStream> stream;
  std::shared_ptr<void> in_flight;  // keeps the server's in-flight count up while streaming
  RequestRecord record;
  bool chat = true;
  bool include_usage = false;
  bool logprobs = false;
  std::string id, model;
  int64_t created = 0;
  bool sent_role = false;
  bool finished = false;
  size_t text_offset = 0;
  bool log = true;
  Clock::time_point last_write = Clock::now();
};

// An SSE comment, sent while a stream has nothing to say for this long (queued, or a long
// prompt): clients ignore it, and a write to a client that went away fails, which cancels it.
constexpr std::chrono::seconds kKeepAliveInterval{1};

// Connections the kernel queues before the server accepts them (a burst of clients).
constexpr int kListenBacklog = 1024;

}  // namespace

struct HttpServer::Impl {
  Impl(HttpOptions o, Scheduler& s, const Tokenizer& t, const chat::ChatTemplateSource& src, Metrics& m)
      : options(std::move(o)), scheduler(s), tokenizer(t), template_source(src), chat_template(src.source), metrics(m) {}

  HttpOptions options;
  Scheduler& scheduler;
  const Tokenizer& tokenizer;
  chat::ChatTemplateSource template_source;
  chat::ChatTemplate chat_template;
  Metrics& metrics;
  httplib::Server http;
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> stopping{false};
  int listen_socket = -1;  // the bound socket, to raise cpp-httplib's listen backlog
  std::atomic<int> generations_in_flight{0};  // from submit until the response is fully sent
  int64_t created = static_cast<int64_t>(std::time(nullptr));

  std::vector<int32_t> chat_prompt(const ApiRequest& api) const;
  std::vector<int32_t> completion_prompt(const ApiRequest& api) const;
  void generate(const httplib::Request& req, httplib::Response& res, RequestRecord& record, bool chat, bool& deferred);
  json response_chunk(const StreamState& st, const std::string& text, const json& logprobs, const json& finish) const;
  bool write_events(StreamState& st, httplib::DataSink& sink);
};

std::vector<int32_t> HttpServer::Impl::chat_prompt(const ApiRequest& api) const {
  chat::ChatTemplateInputs in;
  in.messages = api.messages;
  in.add_generation_prompt = true;
  in.bos_token = template_source.bos_token;
  in.eos_token = template_source.eos_token;
  std::string text;
  try {
    text = chat_template.render(chat::make_chat_context(in));
  } catch (const Error& e) {
    throw ApiError(400, std::string("the chat template failed on these messages: ") + e.what(), "messages");
  }
  // Templates usually write the BOS text themselves; add BOS only when the model wants one and
  // the text does not already start with it.
  std::vector<int32_t> ids = tokenizer.encode(text, false, true);
  const int32_t bos = tokenizer.bos_id();
  if (tokenizer.add_bos() && bos >= 0 && (ids.empty() || ids.front() != bos)) ids.insert(ids.begin(), bos);
  return ids;
}

std::vector<int32_t> HttpServer::Impl::completion_prompt(const ApiRequest& api) const {
  if (api.prompt_is_tokens) {
    for (int32_t t : api.prompt_tokens)
      if (t >= tokenizer.n_vocab())
        throw ApiError(400, "prompt token " + std::to_string(t) + " is outside the vocabulary", "prompt");
    return api.prompt_tokens;
  }
  return tokenizer.encode(api.prompt_text, true, true);
}

json HttpServer::Impl::response_chunk(const StreamState& st, const std::string& text, const json& logprobs,
                                      const json& finish) const {
  json choice = {{"index", 0}};
  if (st.chat) {
    json delta = json::object();
    if (!st.sent_role) delta["role"] = "assistant";
    if (!text.empty() || finish.is_null()) delta["content"] = text;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = finish;
  return {{"id", st.id},
          {"object", st.chat ? "chat.completion.chunk" : "text_completion"},
          {"created", st.created},
          {"model", st.model},
          {"choices", json::array({std::move(choice)})}};
}

// Sends whatever the scheduler produced since the last call. False: the client is gone.
bool HttpServer::Impl::write_events(StreamState& st, httplib::DataSink& sink) {
  const std::vector<StreamEvent> events = st.stream->pop(std::chrono::milliseconds(100));
  if (!sink.is_writable()) return false;
  std::string out;
  for (const StreamEvent& e : events) {
    if (!e.final) {
      // A chunk per token even when its text is held back (part of a UTF-8 character or of a
      // possible stop string): clients see the generation's pace, e.g. time to first token.
      json lp = json();
      if (st.logprobs && e.logprobs) {
        const std::span<const TokenLogprobs> one(&*e.logprobs, 1);
        lp = st.chat ? chat_logprobs_json(one, tokenizer) : completion_logprobs_json(one, tokenizer, st.text_offset);
      }
      out += sse(response_chunk(st, e.text, lp, json()));
      st.sent_role = true;
      st.text_offset += e.text.size();
      continue;
    }
    st.record.prompt_tokens = e.prompt_tokens;
    st.record.completion_tokens = e.completion_tokens;
    st.record.cached_tokens = e.cached_prompt_tokens;
    if (!e.error.empty()) {
      out += sse(error_body("generation failed: " + e.error, "server_error", ""));
    } else {
      if (!e.text.empty()) {
        out += sse(response_chunk(st, e.text, json(), json()));
        st.sent_role = true;
      }
      out += sse(response_chunk(st, "", json(), e.finish_reason));
      if (st.include_usage) {
        out += sse({{"id", st.id},
                    {"object", st.chat ? "chat.completion.chunk" : "text_completion"},
                    {"created", st.created},
                    {"model", st.model},
                    {"choices", json::array()},
                    {"usage", usage_json(e.prompt_tokens, e.completion_tokens, e.cached_prompt_tokens)}});
      }
    }
    out += "data: [DONE]\n\n";
    st.finished = true;
  }
  if (out.empty() && Clock::now() - st.last_write >= kKeepAliveInterval) out = ": keep-alive\n\n";
  if (!out.empty()) {
    if (!sink.write(out.data(), out.size())) return false;
    st.last_write = Clock::now();
  }
  if (st.finished) sink.done();
  return true;
}

void HttpServer::Impl::generate(const httplib::Request& req, httplib::Response& res, RequestRecord& record,
                                bool chat, bool& deferred) {
  ApiRequest api = chat ? parse_chat_request(req.body) : parse_completion_request(req.body);
  if (!api.model.empty() && api.model != options.model_id)
    throw ApiError(404, "The model '" + api.model + "' does not exist", "model");
  for (const auto& [token, bias] : api.sampling.logit_bias)
    if (token >= tokenizer.n_vocab())
      throw ApiError(400, "logit_bias token " + std::to_string(token) + " is outside the vocabulary", "logit_bias");
  const std::vector<int32_t> prompt = chat ? chat_prompt(api) : completion_prompt(api);
  record.prompt_tokens = static_cast<int64_t>(prompt.size());
  if (static_cast<int64_t>(prompt.size()) >= scheduler.n_ctx())
    throw ApiError(400,
                   "the prompt is " + std::to_string(prompt.size()) + " tokens, which does not fit in the context of " +
                       std::to_string(scheduler.n_ctx()) + " tokens",
                   chat ? "messages" : "prompt");
  if (stopping) throw ApiError(503, "the server is shutting down", "", "server_error");
  GenerationRequest g{prompt, api.sampling, api.max_tokens, api.stop, api.top_logprobs};
  std::shared_ptr<RequestStream> stream;
  try {
    stream = scheduler.submit(std::move(g));
  } catch (const Error& e) {
    throw ApiError(stopping ? 503 : 400, e.what());
  }
  ++generations_in_flight;
  // Decrements when the last reference goes: after a plain response is built, or after a
  // stream's releaser ran.
  const std::shared_ptr<void> in_flight(nullptr, [this](void*) { --generations_in_flight; });

  auto st = std::make_shared<StreamState>();
  st->stream = stream;
  st->record = record;
  st->chat = chat;
  st->include_usage = api.include_usage;
  st->logprobs = api.top_logprobs >= 0;
  st->id = (chat ? "chatcmpl-" : "cmpl-") + std::to_string(record.id);
  st->model = options.model_id;
  st->created = static_cast<int64_t>(std::time(nullptr));
  st->log = options.log_requests;
  st->in_flight = in_flight;

  if (api.stream) {
    deferred = true;  // logged when the stream ends
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, st](size_t, httplib::DataSink& sink) {
          if (write_events(*st, sink)) return true;
          st->stream->cancel();  // the client went away: stop generating and free its KV
          return false;
        },
        [st](bool success) {
          if (!st->finished) st->stream->cancel();
          if (st->log) log_request(st->record, success && st->finished ? 200 : 499);
        });
    return;
  }

  std::string text;
  std::vector<TokenLogprobs> logprobs;
  StreamEvent last;
  while (!last.final) {
    for (StreamEvent& e : stream->pop(std::chrono::seconds(1))) {
      text += e.text;
      if (e.logprobs) logprobs.push_back(*e.logprobs);
      if (e.final) last = std::move(e);
    }
  }
  record.completion_tokens = last.completion_tokens;
  record.cached_tokens = last.cached_prompt_tokens;
  if (!last.error.empty()) throw ApiError(500, "generation failed: " + last.error, "", "server_error");
  json choice = {{"index", 0}};
  json lp = json();
  if (chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
    if (st->logprobs) lp = chat_logprobs_json(logprobs, tokenizer);
  } else {
    choice["text"] = text;
    if (st->logprobs) lp = completion_logprobs_json(logprobs, tokenizer, 0);
  }
  choice["logprobs"] = lp;
  choice["finish_reason"] = last.finish_reason;
  send_json(res, 200,
            {{"id", st->id},
             {"object", chat ? "chat.completion" : "text_completion"},
             {"created", st->created},
             {"model", st->model},
             {"choices", json::array({std::move(choice)})},
             {"usage", usage_json(last.prompt_tokens, last.completion_tokens, last.cached_prompt_tokens)}});
}

HttpServer::HttpServer(HttpOptions options, Scheduler& scheduler, const Tokenizer& tokenizer,
                       const chat::ChatTemplateSource& chat_template, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), scheduler, tokenizer, chat_template, metrics)) {
  Impl& s = *impl_;
  // Streams hold a thread each for their whole generation: room for every slot, a queue as long
  // again, and spare threads so /health and /metrics answer under load.
  const int threads = s.options.http_threads > 0 ? s.options.http_threads : 2 * scheduler.options().parallel + 8;
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.http.set_payload_max_length(s.options.max_body_bytes);
  s.http.set_tcp_nodelay(true);  // stream chunks are small: no Nagle delay per token
  // Replaces cpp-httplib's default (SO_REUSEPORT, which would let a second server bind the same
  // port) and remembers the socket: the library listens with a backlog of 5, too short when
  // many clients connect at once (their handshakes are dropped and reads fail).
  s.http.set_socket_options([&s](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    s.listen_socket = sock;
  });
  s.http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours already
    if (res.status == 413) send_error(res, 413, "the request body is larger than the server accepts", "invalid_request_error");
    else if (res.status == 404) send_error(res, 404, "no such route", "invalid_request_error");
    else send_error(res, res.status, "bad request", "invalid_request_error");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.http.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) -> httplib::Server::HandlerResponse {
    if (s.options.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    if (req.get_header_value("Authorization") == "Bearer " + s.options.api_key)
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, 401, "invalid or missing API key (send 'Authorization: Bearer KEY')", "invalid_request_error");
    s.metrics.count_request("unauthorized", 401);  // not the path: clients choose it, the label set must stay small
    if (s.options.log_requests) {
      RequestRecord record;
      record.id = s.next_id++;
      record.endpoint = req.path;
      log_request(record, 401);
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  add_routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::add_routes() {
  Impl& s = *impl_;
  // Wraps a handler: turns exceptions into error objects, counts and logs the request.
  const auto guarded = [&s](std::string endpoint, auto handler) {
    return [&s, endpoint, handler](const httplib::Request& req, httplib::Response& res) {
      RequestRecord record;
      record.id = s.next_id++;
      record.endpoint = endpoint;
      bool deferred = false;
      try {
        handler(req, res, record, deferred);
      } catch (const ApiError& e) {
        send_error(res, e.status(), e.what(), e.type(), e.param());
      } catch (const std::exception& e) {
        send_error(res, 500, std::string("internal error: ") + e.what(), "server_error");
      }
      const int status = res.status == -1 ? 200 : res.status;
      s.metrics.count_request(endpoint, status);
      if (s.options.log_requests && !deferred) log_request(record, status);
    };
  };
  s.http.Post("/v1/chat/completions", guarded("/v1/chat/completions", [&s](const auto& req, auto& res, auto& rec, bool& d) {
    s.generate(req, res, rec, true, d);
  }));
  s.http.Post("/v1/completions", guarded("/v1/completions", [&s](const auto& req, auto& res, auto& rec, bool& d) {
    s.generate(req, res, rec, false, d);
  }));
  const auto model_json = [&s] {
    return json{{"id", s.options.model_id}, {"object", "model"}, {"created", s.created}, {"owned_by", "edgellm"}};
  };
  s.http.Get("/v1/models", guarded("/v1/models", [model_json](const auto&, auto& res, auto&, bool&) {
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model_json()})}});
  }));
  s.http.Get(R"(/v1/models/(.+))", guarded("/v1/models/{id}", [&s, model_json](const auto& req, auto& res, auto&, bool&) {
    if (req.matches[1] != s.options.model_id)
      throw ApiError(404, "The model '" + std::string(req.matches[1]) + "' does not exist", "model");
    send_json(res, 200, model_json());
  }));
  s.http.Get("/health", guarded("/health", [&s](const auto&, auto& res, auto&, bool&) {
    if (s.stopping) send_json(res, 503, {{"status", "shutting down"}});
    else send_json(res, 200, {{"status", "ok"}});
  }));
  s.http.Get("/metrics", guarded("/metrics", [&s](const auto&, auto& res, auto&, bool&) {
    res.set_content(s.metrics.render(s.scheduler.gauges()), "text/plain; version=0.0.4");
  }));
}

int HttpServer::bind() {
  Impl& s = *impl_;
  const int port = s.options.port == 0 ? s.http.bind_to_any_port(s.options.host)
                                       : (s.http.bind_to_port(s.options.host, s.options.port) ? s.options.port : -1);
  if (port < 0) fail("cannot listen on {}:{} (address in use or not available)", s.options.host, s.options.port);
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (s.listen_socket >= 0 && getsockopt(s.listen_socket, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting)
    ::listen(s.listen_socket, kListenBacklog);  // a second listen() only resizes the queue
  return port;
}

void HttpServer::listen() { impl_->http.listen_after_bind(); }

void HttpServer::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

void HttpServer::shutdown() {
  impl_->stopping = true;
  // httplib's stop() cuts chunked responses, so wait for the generations to end first.
  while (impl_->generations_in_flight > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  impl_->http.stop();
}

}  // namespace edgellm::server
