// The OpenAI wire format: request bodies of POST /v1/chat/completions and /v1/completions parsed
// and checked field by field, and the response / stream-chunk / error objects built.
// Supported request fields: model, messages | prompt, stream, stream_options.include_usage,
// max_tokens, max_completion_tokens, temperature, top_p, stop, seed, presence_penalty,
// frequency_penalty, logprobs, top_logprobs, n (only 1), and the common extensions top_k, min_p,
// repeat_penalty. Unknown fields are ignored, as OpenAI-compatible servers usually do.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace edgellm {
class Tokenizer;
}

namespace edgellm::server {

// A request the API rejects; the HTTP layer turns it into an OpenAI error object.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message, std::string param = {},
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status_(status), param_(std::move(param)), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string param_, type_;
};

struct ApiRequest {
  bool chat = true;
  std::string model;                                             // "" when absent
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // chat: role + string content
  std::string prompt_text;                                       // completions
  std::vector<int32_t> prompt_tokens;                            // completions given token ids
  bool prompt_is_tokens = false;
  bool stream = false;
  bool include_usage = false;
  int64_t max_tokens = 0;  // 0: until the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;
  int top_logprobs = -1;   // -1: no log-probabilities
};

// Throw ApiError(400) naming the field for malformed JSON, a wrong type or a value out of range.
ApiRequest parse_chat_request(const std::string& body);
ApiRequest parse_completion_request(const std::string& body);

nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param);
nlohmann::json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);
// `logprobs.content` of a chat response or chunk.
nlohmann::json chat_logprobs_json(std::span<const TokenLogprobs> tokens, const Tokenizer& tokenizer);
// `logprobs` of a (legacy) completion response: tokens, token_logprobs, top_logprobs, text_offset.
nlohmann::json completion_logprobs_json(std::span<const TokenLogprobs> tokens, const Tokenizer& tokenizer,
                                        size_t text_offset);

// JSON text safe for any bytes (invalid UTF-8 in token pieces becomes U+FFFD).
std::string dump_json(const nlohmann::json& value);

}  // namespace edgellm::server
