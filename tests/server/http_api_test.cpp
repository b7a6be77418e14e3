// The OpenAI-compatible endpoints over raw HTTP: response shapes, streaming, and every error
// status (400 malformed JSON / wrong types / prompt over the context, 401, 404, 413).
#include <gtest/gtest.h>

#include <string>

#include "server_test_util.h"

namespace edgellm::test {
namespace {

using nlohmann::json;

json parse(const httplib::Result& r) { return json::parse(r->body); }

void expect_error(const httplib::Result& r, int status, const std::string& param = {}) {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  const json j = json::parse(r->body);
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_TRUE(j["error"]["type"].is_string());
  if (!param.empty()) {
    EXPECT_EQ(j["error"]["param"], param) << r->body;
  }
}

class HttpApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};
TestServer* HttpApi::server_ = nullptr;

TEST_F(HttpApi, ModelsAndHealth) {
  auto c = server_->client();
  auto r = c.Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json j = parse(r);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(parse(c.Get("/v1/models/tiny"))["id"], "tiny");
  expect_error(c.Get("/v1/models/other"), 404);
  r = c.Get("/health");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(parse(r)["status"], "ok");
  expect_error(c.Get("/no/such/route"), 404);
}

TEST_F(HttpApi, ChatCompletion) {
  auto c = server_->client();
  const auto r = c.Post("/v1/chat/completions",
                        R"({"model":"tiny","messages":[{"role":"user","content":"hello"}],"max_tokens":8,
                            "temperature":0,"logprobs":true,"top_logprobs":2})",
                        "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = parse(r);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["model"], "tiny");
  const json& choice = j["choices"][0];
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_TRUE(choice["message"]["content"].is_string());
  const std::string finish = choice["finish_reason"];
  EXPECT_TRUE(finish == "length" || finish == "stop") << finish;
  const json& usage = j["usage"];
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 5);
  EXPECT_EQ(usage["total_tokens"].get<int>(), usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
  if (finish == "length") {
    EXPECT_EQ(usage["completion_tokens"], 8);
    ASSERT_EQ(choice["logprobs"]["content"].size(), 8u);
  }
  const json& first = choice["logprobs"]["content"][0];
  EXPECT_LE(first["logprob"].get<double>(), 0.0);
  ASSERT_EQ(first["top_logprobs"].size(), 2u);
  // Greedy: the chosen token is the most likely one.
  EXPECT_EQ(first["token"], first["top_logprobs"][0]["token"]);
}

TEST_F(HttpApi, GreedyIsDeterministicAndSeedRepeats) {
  auto c = server_->client();
  const std::string greedy = R"({"messages":[{"role":"user","content":"abc"}],"max_tokens":12,"temperature":0})";
  const std::string seeded = R"({"messages":[{"role":"user","content":"abc"}],"max_tokens":12,"seed":5,"temperature":1.5})";
  const auto text = [&](const std::string& body) {
    const auto r = c.Post("/v1/chat/completions", body, "application/json");
    return parse(r)["choices"][0]["message"]["content"].get<std::string>();
  };
  EXPECT_EQ(text(greedy), text(greedy));
  EXPECT_EQ(text(seeded), text(seeded));
}

TEST_F(HttpApi, StreamingChatMatchesNonStreaming) {
  auto c = server_->client();
  const std::string body = R"({"messages":[{"role":"user","content":"stream me"}],"max_tokens":10,"temperature":0)";
  const auto whole = c.Post("/v1/chat/completions", body + "}", "application/json");
  int status = 0;
  const std::string sse = post_stream(c, "/v1/chat/completions",
                                      body + R"(,"stream":true,"stream_options":{"include_usage":true}})", &status);
  EXPECT_EQ(status, 200);
  bool done = false;
  const std::vector<json> events = sse_events(sse, done);
  EXPECT_TRUE(done) << sse;
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  std::string finish;
  for (const json& e : events) {
    if (e["choices"].empty()) continue;
    const json& ch = e["choices"][0];
    if (ch["delta"].contains("content")) text += ch["delta"]["content"].get<std::string>();
    if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"];
  }
  const json full = parse(whole);
  EXPECT_EQ(text, full["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_EQ(finish, full["choices"][0]["finish_reason"]);
  // The usage chunk comes last, with no choices.
  EXPECT_TRUE(events.back()["choices"].empty());
  EXPECT_EQ(events.back()["usage"]["completion_tokens"], full["usage"]["completion_tokens"]);
}

// logit_bias reaches the sampler: +100 on one token makes greedy decoding emit only that
// token; -100 on the token greedy picked first makes it pick another.
TEST_F(HttpApi, LogitBiasForcesAndBansTokens) {
  auto c = server_->client();
  const auto tokens = [&](const json& bias) {
    json req = {{"prompt", "Once upon"}, {"max_tokens", 5}, {"temperature", 0}, {"logprobs", 1}};
    if (!bias.is_null()) req["logit_bias"] = bias;
    const auto r = c.Post("/v1/completions", req.dump(), "application/json");
    EXPECT_EQ(r->status, 200) << r->body;
    return parse(r)["choices"][0]["logprobs"]["tokens"];
  };
  const json greedy = tokens(nullptr);
  ASSERT_EQ(greedy.size(), 5u);
  const json forced = tokens({{"88", 100}});  // byte-level vocabulary: token 88 is one byte
  ASSERT_EQ(forced.size(), 5u);
  for (const json& t : forced) EXPECT_EQ(t, forced[0]) << forced.dump();
  EXPECT_NE(forced, greedy);
  // The tiny model's byte-level vocabulary numbers single bytes by their value, so greedy's
  // first token has the id of its byte; banning it changes the first token.
  ASSERT_EQ(forced[0], "X");
  const std::string first = greedy[0].get<std::string>();
  ASSERT_EQ(first.size(), 1u) << first;
  const json banned = tokens({{std::to_string(static_cast<unsigned char>(first[0])), -100}});
  EXPECT_NE(banned[0], greedy[0]) << banned.dump();
}

TEST_F(HttpApi, CompletionsAndStop) {
  auto c = server_->client();
  auto r = c.Post("/v1/completions", R"({"prompt":"Once upon","max_tokens":6,"temperature":0,"logprobs":1})",
                  "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  json j = parse(r);
  EXPECT_EQ(j["object"], "text_completion");
  const std::string text = j["choices"][0]["text"];
  EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"].size(), j["usage"]["completion_tokens"].get<size_t>());
  // A stop string taken from the greedy output (its second character, whole UTF-8 sequence, not
  // a U+FFFD that stands for invalid bytes) cuts the output right before the string.
  size_t second = 1;
  while (second < text.size() && (static_cast<unsigned char>(text[second]) & 0xC0) == 0x80) ++second;
  size_t after = second + 1;
  while (after < text.size() && (static_cast<unsigned char>(text[after]) & 0xC0) == 0x80) ++after;
  const std::string stop = second < text.size() ? text.substr(second, after - second) : "";
  if (!stop.empty() && stop != "\xEF\xBF\xBD") {
    const json req = {{"prompt", "Once upon"}, {"max_tokens", 6}, {"temperature", 0}, {"stop", {stop}}};
    r = c.Post("/v1/completions", req.dump(), "application/json");
    j = parse(r);
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(j["choices"][0]["text"], text.substr(0, text.find(stop)));
  }
  // Token-id prompts work too.
  r = c.Post("/v1/completions", R"({"prompt":[72,105],"max_tokens":2,"temperature":0})", "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(parse(r)["usage"]["prompt_tokens"], 2);
}

TEST_F(HttpApi, MalformedRequestsGet400) {
  auto c = server_->client();
  const auto post = [&](const std::string& body) { return c.Post("/v1/chat/completions", body, "application/json"); };
  expect_error(post("{not json"), 400);
  expect_error(post("[1,2]"), 400);
  expect_error(post(R"({"messages":"hi"})"), 400, "messages");
  expect_error(post(R"({})"), 400, "messages");
  expect_error(post(R"({"messages":[{"content":"x"}]})"), 400);
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":"5"})"), 400, "max_tokens");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})"), 400, "max_tokens");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})"), 400, "temperature");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"temperature":5})"), 400, "temperature");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"stream":1})"), 400, "stream");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"stop":[1]})"), 400, "stop");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"seed":1.5})"), 400, "seed");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"n":2})"), 400, "n");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})"), 400, "top_logprobs");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":[1,2]})"), 400, "logit_bias");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"abc":1}})"), 400, "logit_bias");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"-3":1}})"), 400, "logit_bias");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"5":101}})"), 400, "logit_bias");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"5":"up"}})"), 400, "logit_bias");
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"300":1}})"), 400, "logit_bias");
  expect_error(c.Post("/v1/completions", R"({"prompt":{"a":1}})", "application/json"), 400, "prompt");
  expect_error(c.Post("/v1/completions", R"({"prompt":[1,99999]})", "application/json"), 400, "prompt");
  // The server still works afterwards.
  EXPECT_EQ(post(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1})")->status, 200);
}

TEST_F(HttpApi, UnknownModelIs404) {
  auto c = server_->client();
  expect_error(c.Post("/v1/chat/completions", R"({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})",
                      "application/json"),
               404, "model");
}

TEST_F(HttpApi, PromptOverContextIs400) {
  auto c = server_->client();
  const json req = {{"prompt", std::string(300, 'a')}, {"max_tokens", 1}};  // 300 byte tokens > 256
  expect_error(c.Post("/v1/completions", req.dump(), "application/json"), 400, "prompt");
}

TEST(HttpLimits, BodyOverLimitIs413) {
  server::HttpOptions ho;
  ho.max_body_bytes = 1000;
  TestServer s(TestServer::default_scheduler(), ho);
  auto c = s.client();
  const json req = {{"messages", {{{"role", "user"}, {"content", std::string(2000, 'x')}}}}};
  expect_error(c.Post("/v1/chat/completions", req.dump(), "application/json"), 413);
}

TEST(HttpLimits, ApiKeyIsRequiredWhenSet) {
  server::HttpOptions ho;
  ho.api_key = "sekret";
  TestServer s(TestServer::default_scheduler(), ho);
  auto c = s.client();
  expect_error(c.Get("/v1/models"), 401);
  const std::string body = R"({"messages":[{"role":"user","content":"x"}],"max_tokens":1})";
  expect_error(c.Post("/v1/chat/completions", body, "application/json"), 401);
  httplib::Headers wrong = {{"Authorization", "Bearer nope"}};
  expect_error(c.Get("/v1/models", wrong), 401);
  httplib::Headers right = {{"Authorization", "Bearer sekret"}};
  EXPECT_EQ(c.Get("/v1/models", right)->status, 200);
  EXPECT_EQ(c.Post("/v1/chat/completions", right, body, "application/json")->status, 200);
  EXPECT_EQ(c.Get("/health")->status, 200);  // liveness probes need no key
}

TEST_F(HttpApi, MetricsArePrometheusText) {
  auto c = server_->client();
  c.Post("/v1/completions", R"({"prompt":"m","max_tokens":2})", "application/json");
  const auto r = c.Get("/metrics");
  ASSERT_EQ(r->status, 200);
  for (const char* name : {"edgellm_requests_total{endpoint=\"/v1/completions\",status=\"200\"}",
                           "# TYPE edgellm_time_to_first_token_seconds histogram",
                           "edgellm_token_latency_seconds_bucket{le=\"+Inf\"}", "edgellm_queue_depth",
                           "edgellm_active_slots", "edgellm_kv_blocks_in_use", "edgellm_completion_tokens_total"})
    EXPECT_NE(r->body.find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace edgellm::test
