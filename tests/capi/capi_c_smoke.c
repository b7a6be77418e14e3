/* Plain C use of the public API: load, tokenize, generate greedily. Returns 0 on success, or
 * the step that failed. */
#include <string.h>

#include "edgellm/edgellm.h"

struct collected {
  char text[4096];
  size_t length;
};

static bool collect(const char* text, size_t length, void* user_data) {
  struct collected* c = (struct collected*)user_data;
  if (c->length + length > sizeof c->text) return false;
  memcpy(c->text + c->length, text, length);
  c->length += length;
  return true;
}

int capi_c_smoke(const char* model_path, char* out_text, size_t capacity, size_t* out_length) {
  edgellm_model* model = NULL;
  if (edgellm_model_load_file(model_path, &model) != EDGELLM_OK) return 1;
  int32_t ids[64];
  size_t n_ids = 0;
  if (edgellm_tokenize(model, "hello", 5, false, false, ids, 64, &n_ids) != EDGELLM_OK || n_ids == 0) {
    edgellm_model_free(model);
    return 2;
  }
  edgellm_context_params params = edgellm_context_default_params();
  params.temperature = 0.0f;
  params.n_threads = 1;
  edgellm_context* context = NULL;
  if (edgellm_context_create(model, &params, &context) != EDGELLM_OK) {
    edgellm_model_free(model);
    return 3;
  }
  struct collected c;
  c.length = 0;
  int32_t n_generated = 0;
  const edgellm_status status = edgellm_generate(context, "hello", 5, 8, collect, &c, &n_generated);
  edgellm_context_free(context);
  edgellm_model_free(model);
  if (status != EDGELLM_OK || n_generated <= 0) return 4;
  if (c.length > capacity) return 5;
  memcpy(out_text, c.text, c.length);
  *out_length = c.length;
  return 0;
}
