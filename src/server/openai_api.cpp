#include "server/openai_api.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/tokenizer.h"

namespace edgellm::server {

namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& param, const std::string& message) { throw ApiError(400, message, param); }

json parse_object(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object");
  return j;
}

// The field's value, or nullptr when absent or null (OpenAI treats null as "not given").
const json* field(const json& j, const char* name) {
  const auto it = j.find(name);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& j, const char* name, bool fallback) {
  const json* v = field(j, name);
  if (!v) return fallback;
  if (!v->is_boolean()) bad(name, std::string("'") + name + "' must be a boolean");
  return v->get<bool>();
}

double get_number(const json& j, const char* name, double fallback, double lo, double hi) {
  const json* v = field(j, name);
  if (!v) return fallback;
  if (!v->is_number()) bad(name, std::string("'") + name + "' must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(name, std::string("'") + name + "' must be between " + json(lo).dump() + " and " + json(hi).dump());
  return x;
}

int64_t get_int(const json& j, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const json* v = field(j, name);
  if (!v) return fallback;
  if (!v->is_number_integer()) bad(name, std::string("'") + name + "' must be an integer");
  if (v->is_number_unsigned() ? v->get<uint64_t>() > static_cast<uint64_t>(hi) : v->get<int64_t>() > hi) {
    bad(name, std::string("'") + name + "' must be at most " + std::to_string(hi));
  }
  const int64_t x = v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
  if (x < lo) bad(name, std::string("'") + name + "' must be at least " + std::to_string(lo));
  return x;
}

std::string get_string(const json& j, const char* name) {
  const json* v = field(j, name);
  if (!v) return {};
  if (!v->is_string()) bad(name, std::string("'") + name + "' must be a string");
  return v->get<std::string>();
}

// Fields common to both endpoints.
ApiRequest parse_common(const json& j) {
  ApiRequest r;
  r.model = get_string(j, "model");
  r.stream = get_bool(j, "stream", false);
  if (const json* so = field(j, "stream_options")) {
    if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
    r.include_usage = get_bool(*so, "include_usage", false);
  }
  if (get_int(j, "n", 1, 1, 1) != 1) bad("n", "only n = 1 is supported");
  const int64_t kMaxTokens = int64_t{1} << 30;
  r.max_tokens = get_int(j, "max_tokens", 0, 1, kMaxTokens);
  r.max_tokens = get_int(j, "max_completion_tokens", r.max_tokens, 1, kMaxTokens);

  SamplingParams& s = r.sampling;  // OpenAI's defaults, not the CLI's
  s.temperature = static_cast<float>(get_number(j, "temperature", 1.0, 0.0, 2.0));
  s.top_p = static_cast<float>(get_number(j, "top_p", 1.0, 0.0, 1.0));
  if (s.top_p <= 0.0f) bad("top_p", "'top_p' must be greater than 0");
  s.top_k = static_cast<int32_t>(get_int(j, "top_k", 0, 0, std::numeric_limits<int32_t>::max()));
  s.min_p = static_cast<float>(get_number(j, "min_p", 0.0, 0.0, 1.0));
  s.repeat_penalty = static_cast<float>(get_number(j, "repeat_penalty", 1.0, 1e-3, 100.0));
  s.presence_penalty = static_cast<float>(get_number(j, "presence_penalty", 0.0, -2.0, 2.0));
  s.frequency_penalty = static_cast<float>(get_number(j, "frequency_penalty", 0.0, -2.0, 2.0));
  s.repeat_last_n = -1;  // OpenAI's penalties count every generated token
  if (const json* seed = field(j, "seed")) {
    if (!seed->is_number_integer()) bad("seed", "'seed' must be an integer");
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  } else {
    s.seed = random_seed();
  }

  if (const json* bias = field(j, "logit_bias")) {
    // OpenAI's form: {"<token id>": bias}, the bias in [-100, 100] added to the token's logit
    // before sampling (-100 all but bans a token, +100 all but forces it). Token ids beyond
    // the vocabulary are refused by the server, which knows its size.
    if (!bias->is_object()) bad("logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
    if (bias->size() > 1024) bad("logit_bias", "'logit_bias' may hold at most 1024 tokens");
    for (const auto& [key, value] : bias->items()) {
      const bool digits = !key.empty() && key.size() <= 10 &&
                          std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
      const int64_t id = digits ? std::stoll(key) : -1;
      if (id < 0 || id > std::numeric_limits<int32_t>::max())
        bad("logit_bias", "'logit_bias' keys must be token ids (non-negative integers), got '" + key + "'");
      const double b = value.is_number() ? value.get<double>() : std::nan("");
      if (!(b >= -100.0 && b <= 100.0)) bad("logit_bias", "'logit_bias' values must be numbers from -100 to 100");
      s.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(b);
    }
  }

  if (const json* stop = field(j, "stop")) {
    if (stop->is_string()) {
      r.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      if (stop->size() > 16) bad("stop", "'stop' may hold at most 16 strings");
      for (const json& s1 : *stop) {
        if (!s1.is_string()) bad("stop", "'stop' must be a string or an array of strings");
        r.stop.push_back(s1.get<std::string>());
      }
    } else {
      bad("stop", "'stop' must be a string or an array of strings");
    }
    for (const std::string& s1 : r.stop)
      if (s1.empty()) bad("stop", "stop strings must not be empty");
  }
  return r;
}

std::string message_content(const json& content, size_t index) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad(param, "'" + param + "' must be a string or an array of content parts");
  std::string text;  // text parts joined, as OpenAI does for system/assistant messages
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part["text"].is_string())
      bad(param, "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported");
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

ApiRequest parse_chat_request(const std::string& body) {
  const json j = parse_object(body);
  ApiRequest r = parse_common(j);
  r.chat = true;
  const json* messages = field(j, "messages");
  if (!messages) bad("messages", "'messages' is required");
  if (!messages->is_array() || messages->empty()) bad("messages", "'messages' must be a non-empty array");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    if (!m.is_object()) bad("messages", "each message must be an object");
    const json* role = field(m, "role");
    if (!role || !role->is_string())
      bad("messages[" + std::to_string(i) + "].role", "each message needs a string 'role'");
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    out["role"] = role->get<std::string>();
    out["content"] = message_content(m.contains("content") ? m["content"] : json(), i);
    r.messages.push_back(std::move(out));
  }
  const bool logprobs = get_bool(j, "logprobs", false);
  const int64_t top = get_int(j, "top_logprobs", -1, 0, 20);
  if (top >= 0 && !logprobs) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  if (logprobs) r.top_logprobs = static_cast<int>(std::max<int64_t>(top, 0));
  return r;
}

ApiRequest parse_completion_request(const std::string& body) {
  const json j = parse_object(body);
  ApiRequest r = parse_common(j);
  r.chat = false;
  const json* prompt = field(j, "prompt");
  if (!prompt) bad("prompt", "'prompt' is required");
  if (prompt->is_string()) {
    r.prompt_text = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    r.prompt_text = (*prompt)[0].get<std::string>();
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number_integer()) {
    r.prompt_is_tokens = true;
    for (const json& t : *prompt) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max())
        bad("prompt", "a token-id prompt must be an array of non-negative integers");
      r.prompt_tokens.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
  } else {
    bad("prompt", "'prompt' must be a string, an array of one string, or an array of token ids");
  }
  const int64_t n = get_int(j, "logprobs", -1, 0, 20);  // legacy: the number of top tokens
  if (n >= 0) r.top_logprobs = static_cast<int>(n);
  return r;
}

json error_body(const std::string& message, const std::string& type, const std::string& param) {
  return {{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json() : json(param)}, {"code", json()}}}};
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

namespace {

json token_entry(const Tokenizer& tokenizer, const TokenLogprob& t) {
  const std::string piece = tokenizer.token_to_piece(t.token);
  json bytes = json::array();
  for (unsigned char c : piece) bytes.push_back(static_cast<int>(c));
  return {{"token", piece}, {"logprob", t.logprob}, {"bytes", bytes}};
}

}  // namespace

json chat_logprobs_json(std::span<const TokenLogprobs> tokens, const Tokenizer& tokenizer) {
  json content = json::array();
  for (const TokenLogprobs& t : tokens) {
    json entry = token_entry(tokenizer, t.chosen);
    json top = json::array();
    for (const TokenLogprob& alt : t.top) top.push_back(token_entry(tokenizer, alt));
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  return {{"content", std::move(content)}};
}

json completion_logprobs_json(std::span<const TokenLogprobs> tokens, const Tokenizer& tokenizer, size_t text_offset) {
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const TokenLogprobs& t : tokens) {
    const std::string piece = tokenizer.token_to_piece(t.chosen.token);
    out["tokens"].push_back(piece);
    out["token_logprobs"].push_back(t.chosen.logprob);
    json top = json::object();
    for (const TokenLogprob& alt : t.top) top[tokenizer.token_to_piece(alt.token)] = alt.logprob;
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(text_offset);
    text_offset += piece.size();
  }
  return out;
}

std::string dump_json(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace edgellm::server
