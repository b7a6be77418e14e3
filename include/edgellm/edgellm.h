/* edgellm's embeddable C API: load a GGUF model (from a path, a file descriptor or a buffer),
 * tokenize, evaluate, sample, generate with a streaming callback.
 *
 * Conventions
 * - Every fallible function returns an edgellm_status; EDGELLM_OK is 0. No C++ exception ever
 *   crosses this boundary. After a failure, edgellm_last_error() gives a human-readable message
 *   (kept per calling thread, valid until that thread's next failing call).
 * - Objects are opaque and freed with their _free function (NULL is accepted).
 * - A model is immutable after loading: several contexts (one per thread) may share it.
 *   A context must be used by one thread at a time.
 * - Strings in and out are UTF-8 byte ranges (pointer + length); token pieces may hold a
 *   partial UTF-8 character, generated text passed to callbacks never does.
 */
#ifndef EDGELLM_EDGELLM_H
#define EDGELLM_EDGELLM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum edgellm_status {
  EDGELLM_OK = 0,
  EDGELLM_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, out-of-range value, unknown token id */
  EDGELLM_ERR_BAD_MODEL = 2,        /* unreadable, malformed or unsupported model file */
  EDGELLM_ERR_CONTEXT_FULL = 3,     /* the tokens do not fit in the context */
  EDGELLM_ERR_BUFFER_TOO_SMALL = 4, /* the *_needed output says how much room is needed */
  EDGELLM_ERR_OUT_OF_MEMORY = 5,
  EDGELLM_ERR_INTERNAL = 6
} edgellm_status;

typedef struct edgellm_model edgellm_model;
typedef struct edgellm_context edgellm_context;

/* Message of the calling thread's last failure ("" when none). */
const char* edgellm_last_error(void);
/* "edgellm 0.1.0 (avx512vnni)": version and the kernel set chosen for this CPU. */
const char* edgellm_version(void);

/* ---- Models ---------------------------------------------------------------------------- */

/* Maps a GGUF file read-only (weights are not copied into RAM). */
edgellm_status edgellm_model_load_file(const char* path, edgellm_model** out_model);
/* Maps bytes [offset, offset + length) of an open descriptor (length 0: to the end), e.g. an
 * uncompressed asset inside an Android APK. The descriptor is not closed. */
edgellm_status edgellm_model_load_fd(int fd, uint64_t offset, uint64_t length,
                                     edgellm_model** out_model);
/* A GGUF image held in memory; the buffer must stay valid until edgellm_model_free. */
edgellm_status edgellm_model_load_buffer(const void* data, size_t size, edgellm_model** out_model);
void edgellm_model_free(edgellm_model* model);

int32_t edgellm_model_n_vocab(const edgellm_model* model);
int32_t edgellm_model_n_ctx_train(const edgellm_model* model);
/* Special token ids, -1 when the model has none. */
int32_t edgellm_model_bos(const edgellm_model* model);
int32_t edgellm_model_eos(const edgellm_model* model);
/* True for tokens that end a generation (EOS, EOT, <|im_end|>, ...). */
bool edgellm_model_is_end_of_generation(const edgellm_model* model, int32_t token);

/* ---- Tokens ----------------------------------------------------------------------------- */

/* Tokenizes text[0..length). add_special: BOS/EOS as the model's metadata says; parse_special:
 * special-token text such as "<|im_end|>" becomes that token. Writes at most capacity ids; on
 * EDGELLM_ERR_BUFFER_TOO_SMALL nothing useful is written and *n_tokens is the count needed. */
edgellm_status edgellm_tokenize(const edgellm_model* model, const char* text, size_t length,
                                bool add_special, bool parse_special, int32_t* tokens,
                                size_t capacity, size_t* n_tokens);
/* The bytes of tokens (the whole sequence decoded); same capacity protocol as above, in bytes.
 * The output is not NUL-terminated. */
edgellm_status edgellm_detokenize(const edgellm_model* model, const int32_t* tokens,
                                  size_t n_tokens, bool skip_special, char* text, size_t capacity,
                                  size_t* length);

/* ---- Contexts: a KV cache, a thread pool and a sampler ---------------------------------- */

typedef struct edgellm_context_params {
  int32_t n_ctx;     /* 0: the model's training context, at most 4096 */
  int32_t n_threads; /* 0: all cores */
  bool kv_f32;       /* false: F16 KV cache (default) */
  /* Sampling; the defaults are llama.cpp's command-line defaults. temperature 0 = greedy. */
  float temperature;
  int32_t top_k;
  float top_p;
  float min_p;
  float repeat_penalty;
  float frequency_penalty;
  float presence_penalty;
  uint64_t seed;
} edgellm_context_params;

edgellm_context_params edgellm_context_default_params(void);

edgellm_status edgellm_context_create(const edgellm_model* model,
                                      const edgellm_context_params* params,
                                      edgellm_context** out_context);
void edgellm_context_free(edgellm_context* context);

/* Forgets the sequence (tokens and sampler history); the next eval starts at position 0. */
void edgellm_context_reset(edgellm_context* context);
/* Tokens currently in the context. */
int32_t edgellm_context_n_past(const edgellm_context* context);

/* Appends tokens to the sequence and computes the logits of the last one (n_vocab floats at
 * *logits, valid until the next call on this context; logits may be NULL). */
edgellm_status edgellm_eval(edgellm_context* context, const int32_t* tokens, size_t n_tokens,
                            const float** logits);
/* Draws the next token from logits (n_vocab floats) with the context's sampler and records it
 * in the sampler's penalty window. */
edgellm_status edgellm_sample(edgellm_context* context, const float* logits, int32_t* token);

/* Called with each piece of generated text (complete UTF-8 characters). Return false to stop. */
typedef bool (*edgellm_text_callback)(const char* text, size_t length, void* user_data);

/* Tokenizes prompt (BOS as the model says), evaluates it after what the context already holds,
 * then samples up to max_tokens tokens, streaming their text to callback (may be NULL). Stops
 * at an end-of-generation token, at max_tokens, when the callback returns false, or when the
 * context is full (EDGELLM_ERR_CONTEXT_FULL only if the prompt itself does not fit).
 * *n_generated (may be NULL) receives the number of tokens sampled. The last token sampled
 * (unless it ended the generation) is evaluated at the start of the next eval/generate call,
 * so a conversation continues seamlessly. */
edgellm_status edgellm_generate(edgellm_context* context, const char* prompt, size_t prompt_length,
                                int32_t max_tokens, edgellm_text_callback callback,
                                void* user_data, int32_t* n_generated);

#ifdef __cplusplus
}
#endif

#endif /* EDGELLM_EDGELLM_H */
