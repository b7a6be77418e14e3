// The C API (include/edgellm/edgellm.h) over the C++ engine. Each entry point runs its body
// through guarded(), which turns every exception into a status code and a per-thread message:
// nothing thrown may cross into C.
#include "edgellm/edgellm.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/simd/kernels.h"
#include "model/model.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

struct edgellm_model {
  std::unique_ptr<edgellm::model::Model> model;
  edgellm::Tokenizer tokenizer;
};

struct edgellm_context {
  const edgellm_model* owner;
  std::unique_ptr<edgellm::runtime::ThreadPool> pool;
  std::unique_ptr<edgellm::runtime::Session> session;
  edgellm::Sampler sampler;
  std::vector<float> last_logits;
  // The last token edgellm_generate sampled but did not evaluate (it stopped at max_tokens or
  // at the callback's request); evaluated before whatever comes next, so a conversation
  // continued with another call keeps every token it was shown.
  std::vector<int32_t> pending;
};

namespace {

// The message of the calling thread's last failure. Per thread, so concurrent callers using
// different contexts never see each other's errors.
thread_local std::string t_last_error;

// An error with the status the C caller should see (edgellm::Error alone does not say which).
struct StatusError : edgellm::Error {
  StatusError(edgellm_status s, const std::string& message) : edgellm::Error(message), status(s) {}
  edgellm_status status;
};

[[noreturn]] void fail_with(edgellm_status status, const std::string& message) {
  throw StatusError(status, message);
}

void require(bool condition, const char* what) {
  if (!condition) fail_with(EDGELLM_ERR_INVALID_ARGUMENT, what);
}

// Runs body; a thrown edgellm::Error maps to `error_status` unless it carries its own.
template <typename Body>
edgellm_status guarded(edgellm_status error_status, Body&& body) noexcept {
  try {
    body();
    return EDGELLM_OK;
  } catch (const StatusError& e) {
    t_last_error = e.what();
    return e.status;
  } catch (const edgellm::Error& e) {
    t_last_error = e.what();
    return error_status;
  } catch (const std::bad_alloc&) {
    t_last_error = "out of memory";
    return EDGELLM_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    t_last_error = std::string("internal error: ") + e.what();
    return EDGELLM_ERR_INTERNAL;
  } catch (...) {
    t_last_error = "internal error: unknown exception";
    return EDGELLM_ERR_INTERNAL;
  }
}

edgellm_status load_model(edgellm::gguf::GgufFile (*open)(const void*), const void* arg,
                          edgellm_model** out_model) {
  return guarded(EDGELLM_ERR_BAD_MODEL, [&] {
    require(out_model != nullptr, "out_model is NULL");
    *out_model = nullptr;
    auto model = edgellm::model::Model::from_file(open(arg));
    auto tokenizer = edgellm::Tokenizer::from_gguf(model->file());
    *out_model = new edgellm_model{std::move(model), std::move(tokenizer)};
  });
}

void check_token(const edgellm_model* m, int32_t id) {
  if (id < 0 || id >= m->model->config().n_vocab)
    fail_with(EDGELLM_ERR_INVALID_ARGUMENT,
              "token id " + std::to_string(id) + " is outside the vocabulary of " +
                  std::to_string(m->model->config().n_vocab) + " tokens");
}

// Evaluates tokens after the context's sequence and keeps the last position's logits.
void eval_tokens(edgellm_context* c, std::span<const int32_t> new_tokens) {
  std::vector<int32_t> tokens = c->pending;
  tokens.insert(tokens.end(), new_tokens.begin(), new_tokens.end());
  require(!tokens.empty(), "no tokens to evaluate");
  for (int32_t id : tokens) check_token(c->owner, id);
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (c->session->n_past() + n > c->session->n_ctx())
    fail_with(EDGELLM_ERR_CONTEXT_FULL,
              "context is full: " + std::to_string(c->session->n_past()) + " tokens + " +
                  std::to_string(n) + " new exceed the context size " +
                  std::to_string(c->session->n_ctx()));
  const std::span<const float> logits = c->session->eval(tokens, 1);
  c->last_logits.assign(logits.begin(), logits.end());
  c->pending.clear();
}

}  // namespace

extern "C" {

const char* edgellm_last_error(void) { return t_last_error.c_str(); }

const char* edgellm_version(void) {
  // Built once; the kernel set is fixed for the process's lifetime.
  static const std::string version = [] {
    std::string isa = "unknown";
    try {
      isa = std::string(edgellm::kernels::isa_name(edgellm::kernels::active().isa));
    } catch (...) {
    }
    return "edgellm 0.1.0 (" + isa + ")";
  }();
  return version.c_str();
}

edgellm_status edgellm_model_load_file(const char* path, edgellm_model** out_model) {
  if (path == nullptr) {
    t_last_error = "path is NULL";
    return EDGELLM_ERR_INVALID_ARGUMENT;
  }
  return load_model([](const void* p) { return edgellm::gguf::GgufFile::open(static_cast<const char*>(p)); },
                    path, out_model);
}

edgellm_status edgellm_model_load_fd(int fd, uint64_t offset, uint64_t length, edgellm_model** out_model) {
  struct FdRange {
    int fd;
    uint64_t offset, length;
  } range{fd, offset, length};
  return load_model(
      [](const void* p) {
        const auto* r = static_cast<const FdRange*>(p);
        return edgellm::gguf::GgufFile::from_fd(r->fd, r->offset, r->length);
      },
      &range, out_model);
}

edgellm_status edgellm_model_load_buffer(const void* data, size_t size, edgellm_model** out_model) {
  if (data == nullptr && size != 0) {
    t_last_error = "data is NULL";
    return EDGELLM_ERR_INVALID_ARGUMENT;
  }
  const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(data), size);
  return load_model(
      [](const void* p) {
        return edgellm::gguf::GgufFile::from_buffer(*static_cast<const std::span<const uint8_t>*>(p));
      },
      &bytes, out_model);
}

void edgellm_model_free(edgellm_model* model) { delete model; }

int32_t edgellm_model_n_vocab(const edgellm_model* model) {
  return model ? static_cast<int32_t>(model->model->config().n_vocab) : 0;
}
int32_t edgellm_model_n_ctx_train(const edgellm_model* model) {
  return model ? static_cast<int32_t>(model->model->config().n_ctx_train) : 0;
}
int32_t edgellm_model_bos(const edgellm_model* model) { return model ? model->tokenizer.bos_id() : -1; }
int32_t edgellm_model_eos(const edgellm_model* model) { return model ? model->tokenizer.eos_id() : -1; }
bool edgellm_model_is_end_of_generation(const edgellm_model* model, int32_t token) {
  if (model == nullptr || token < 0 || token >= model->tokenizer.n_vocab()) return false;
  return model->tokenizer.is_end_of_generation(token);
}

edgellm_status edgellm_tokenize(const edgellm_model* model, const char* text, size_t length,
                                bool add_special, bool parse_special, int32_t* tokens,
                                size_t capacity, size_t* n_tokens) {
  return guarded(EDGELLM_ERR_INVALID_ARGUMENT, [&] {
    require(model != nullptr && n_tokens != nullptr, "model or n_tokens is NULL");
    require(text != nullptr || length == 0, "text is NULL");
    require(tokens != nullptr || capacity == 0, "tokens is NULL");
    const std::vector<int32_t> ids =
        model->tokenizer.encode(std::string_view(text ? text : "", length), add_special, parse_special);
    *n_tokens = ids.size();
    if (ids.size() > capacity)
      fail_with(EDGELLM_ERR_BUFFER_TOO_SMALL, "room for " + std::to_string(capacity) + " tokens, " +
                                                  std::to_string(ids.size()) + " needed");
    std::copy(ids.begin(), ids.end(), tokens);
  });
}

edgellm_status edgellm_detokenize(const edgellm_model* model, const int32_t* tokens, size_t n_tokens,
                                  bool skip_special, char* text, size_t capacity, size_t* length) {
  return guarded(EDGELLM_ERR_INVALID_ARGUMENT, [&] {
    require(model != nullptr && length != nullptr, "model or length is NULL");
    require(tokens != nullptr || n_tokens == 0, "tokens is NULL");
    require(text != nullptr || capacity == 0, "text is NULL");
    const std::span<const int32_t> ids(tokens, n_tokens);
    for (int32_t id : ids) check_token(model, id);
    const std::string out = model->tokenizer.decode(ids, skip_special);
    *length = out.size();
    if (out.size() > capacity)
      fail_with(EDGELLM_ERR_BUFFER_TOO_SMALL, "room for " + std::to_string(capacity) + " bytes, " +
                                                  std::to_string(out.size()) + " needed");
    if (!out.empty()) std::memcpy(text, out.data(), out.size());
  });
}

edgellm_context_params edgellm_context_default_params(void) {
  const edgellm::SamplingParams s;
  edgellm_context_params p{};
  p.n_ctx = 0;
  p.n_threads = 0;
  p.kv_f32 = false;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repeat_penalty = s.repeat_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.presence_penalty = s.presence_penalty;
  p.seed = s.seed;
  return p;
}

edgellm_status edgellm_context_create(const edgellm_model* model, const edgellm_context_params* params,
                                      edgellm_context** out_context) {
  return guarded(EDGELLM_ERR_INVALID_ARGUMENT, [&] {
    require(model != nullptr && params != nullptr && out_context != nullptr,
            "model, params or out_context is NULL");
    *out_context = nullptr;
    require(params->n_ctx >= 0, "n_ctx must not be negative");
    require(params->n_threads >= 0, "n_threads must not be negative");
    edgellm::SamplingParams s;
    s.temperature = params->temperature;
    s.top_k = params->top_k;
    s.top_p = params->top_p;
    s.min_p = params->min_p;
    s.repeat_penalty = params->repeat_penalty;
    s.frequency_penalty = params->frequency_penalty;
    s.presence_penalty = params->presence_penalty;
    s.seed = params->seed;
    edgellm::validate(s);
    auto pool = std::make_unique<edgellm::runtime::ThreadPool>(params->n_threads);
    edgellm::runtime::SessionParams sp;
    sp.n_ctx = params->n_ctx;
    sp.kv_type = params->kv_f32 ? edgellm::runtime::KvType::F32 : edgellm::runtime::KvType::F16;
    auto session = std::make_unique<edgellm::runtime::Session>(*model->model, sp, *pool);
    *out_context = new edgellm_context{model, std::move(pool), std::move(session), edgellm::Sampler(s), {}};
  });
}

void edgellm_context_free(edgellm_context* context) { delete context; }

void edgellm_context_reset(edgellm_context* context) {
  if (context == nullptr) return;
  context->session->reset();
  context->sampler.reset();
  context->last_logits.clear();
  context->pending.clear();
}

int32_t edgellm_context_n_past(const edgellm_context* context) {
  return context ? static_cast<int32_t>(context->session->n_past()) : 0;
}

edgellm_status edgellm_eval(edgellm_context* context, const int32_t* tokens, size_t n_tokens,
                            const float** logits) {
  return guarded(EDGELLM_ERR_INVALID_ARGUMENT, [&] {
    require(context != nullptr, "context is NULL");
    require(tokens != nullptr || n_tokens == 0, "tokens is NULL");
    eval_tokens(context, std::span<const int32_t>(tokens, n_tokens));
    if (logits != nullptr) *logits = context->last_logits.data();
  });
}

edgellm_status edgellm_sample(edgellm_context* context, const float* logits, int32_t* token) {
  return guarded(EDGELLM_ERR_INVALID_ARGUMENT, [&] {
    require(context != nullptr && logits != nullptr && token != nullptr,
            "context, logits or token is NULL");
    const auto n_vocab = static_cast<size_t>(context->owner->model->config().n_vocab);
    const int32_t id = context->sampler.sample(std::span<const float>(logits, n_vocab));
    context->sampler.accept(id);
    *token = id;
  });
}

edgellm_status edgellm_generate(edgellm_context* context, const char* prompt, size_t prompt_length,
                                int32_t max_tokens, edgellm_text_callback callback, void* user_data,
                                int32_t* n_generated) {
  if (n_generated != nullptr) *n_generated = 0;
  return guarded(EDGELLM_ERR_INVALID_ARGUMENT, [&] {
    require(context != nullptr, "context is NULL");
    require(prompt != nullptr || prompt_length == 0, "prompt is NULL");
    require(max_tokens >= 0, "max_tokens must not be negative");
    const edgellm::Tokenizer& tokenizer = context->owner->tokenizer;
    const std::vector<int32_t> prompt_ids =
        tokenizer.encode(std::string_view(prompt ? prompt : "", prompt_length), context->session->n_past() == 0);
    if (prompt_ids.empty() && context->last_logits.empty())
      fail_with(EDGELLM_ERR_INVALID_ARGUMENT, "empty prompt and nothing evaluated before it");
    if (!prompt_ids.empty() || !context->pending.empty()) eval_tokens(context, prompt_ids);
    for (int32_t id : prompt_ids) context->sampler.accept(id);

    edgellm::StreamDecoder decoder(tokenizer);
    const auto emit = [&](const std::string& text) {
      return text.empty() || callback == nullptr || callback(text.data(), text.size(), user_data);
    };
    for (int32_t i = 0; i < max_tokens; ++i) {
      const int32_t id = context->sampler.sample(context->last_logits);
      context->sampler.accept(id);
      if (n_generated != nullptr) *n_generated = i + 1;
      if (tokenizer.is_end_of_generation(id)) break;
      const bool go_on = emit(decoder.push(id));
      if (!go_on || i + 1 == max_tokens || context->session->n_past() >= context->session->n_ctx()) {
        context->pending = {id};  // a full context stops quietly; the next eval reports it
        if (!go_on) return;
        break;
      }
      const int32_t next[1] = {id};
      eval_tokens(context, next);
    }
    emit(decoder.flush());
  });
}

}  // extern "C"
