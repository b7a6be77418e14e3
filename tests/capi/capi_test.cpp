// The C API against the C++ engine it wraps: every way of loading gives the same model, eval /
// sample / generate agree with the C++ Session driven directly, and every failure comes back as
// a status code with a message (never an exception or a crash).
#include "edgellm/edgellm.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"
#include "model/model_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "tokenizer/tokenizer.h"

extern "C" int capi_c_smoke(const char* model_path, char* out_text, size_t capacity, size_t* out_length);

namespace {

namespace fs = std::filesystem;

struct TinyModelFile {
  std::vector<uint8_t> bytes;
  fs::path path;
  TinyModelFile() {
    edgellm::test::TinyGgufOptions o;
    o.n_vocab = 300;  // byte tokenizer: 256 bytes + <|endoftext|> + one merge, padded
    o.with_tokenizer = true;
    o.n_ctx = 64;
    bytes = edgellm::test::make_tiny_gguf(o);
    path = fs::temp_directory_path() / ("capi_test_" + std::to_string(::getpid()) + ".gguf");
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                 static_cast<std::streamsize>(bytes.size()));
  }
  ~TinyModelFile() { fs::remove(path); }
};

const TinyModelFile& tiny() {
  static const TinyModelFile file;
  return file;
}

struct ModelHandle {
  edgellm_model* m = nullptr;
  ~ModelHandle() { edgellm_model_free(m); }
};
struct ContextHandle {
  edgellm_context* c = nullptr;
  ~ContextHandle() { edgellm_context_free(c); }
};

edgellm_context_params greedy_params() {
  edgellm_context_params p = edgellm_context_default_params();
  p.temperature = 0.0f;
  p.n_threads = 1;
  return p;
}

std::vector<float> eval_logits(edgellm_model* model, const std::vector<int32_t>& ids) {
  ContextHandle ctx;
  const edgellm_context_params p = greedy_params();
  EXPECT_EQ(edgellm_context_create(model, &p, &ctx.c), EDGELLM_OK) << edgellm_last_error();
  const float* logits = nullptr;
  EXPECT_EQ(edgellm_eval(ctx.c, ids.data(), ids.size(), &logits), EDGELLM_OK) << edgellm_last_error();
  return std::vector<float>(logits, logits + edgellm_model_n_vocab(model));
}

TEST(CApi, FileBufferAndDescriptorLoadTheSameModel) {
  const std::vector<int32_t> ids = {104, 101, 108, 108, 111};
  ModelHandle from_file, from_buffer, from_fd;
  ASSERT_EQ(edgellm_model_load_file(tiny().path.c_str(), &from_file.m), EDGELLM_OK) << edgellm_last_error();
  ASSERT_EQ(edgellm_model_load_buffer(tiny().bytes.data(), tiny().bytes.size(), &from_buffer.m), EDGELLM_OK)
      << edgellm_last_error();

  // The model inside a bigger file at an unaligned offset, as an asset inside an APK would be.
  const fs::path packed = tiny().path.string() + ".pack";
  {
    std::ofstream out(packed, std::ios::binary);
    out << std::string(1000, 'x');
    out.write(reinterpret_cast<const char*>(tiny().bytes.data()), static_cast<std::streamsize>(tiny().bytes.size()));
    out << std::string(77, 'y');
  }
  const int fd = ::open(packed.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(edgellm_model_load_fd(fd, 1000, tiny().bytes.size(), &from_fd.m), EDGELLM_OK) << edgellm_last_error();
  ::close(fd);  // the mapping outlives the descriptor
  fs::remove(packed);

  EXPECT_EQ(edgellm_model_n_vocab(from_file.m), 300);
  EXPECT_EQ(edgellm_model_n_ctx_train(from_file.m), 64);
  EXPECT_EQ(edgellm_model_eos(from_file.m), 256);
  EXPECT_TRUE(edgellm_model_is_end_of_generation(from_file.m, 256));
  EXPECT_FALSE(edgellm_model_is_end_of_generation(from_file.m, 5));
  EXPECT_FALSE(edgellm_model_is_end_of_generation(from_file.m, 100000));
  const std::vector<float> a = eval_logits(from_file.m, ids);
  EXPECT_EQ(a, eval_logits(from_buffer.m, ids));
  EXPECT_EQ(a, eval_logits(from_fd.m, ids));
}

TEST(CApi, EvalMatchesTheCppSession) {
  const std::vector<int32_t> ids = {72, 105, 33, 10, 200, 3};
  ModelHandle model;
  ASSERT_EQ(edgellm_model_load_file(tiny().path.c_str(), &model.m), EDGELLM_OK);
  const auto reference_model = edgellm::model::Model::load(tiny().path.string());
  edgellm::runtime::ThreadPool pool(1);
  edgellm::runtime::Session session(*reference_model, {}, pool);
  const std::span<const float> expected = session.eval(ids, 1);
  const std::vector<float> got = eval_logits(model.m, ids);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << i;  // same code path
}

TEST(CApi, TokenizeAndDetokenizeRoundTrip) {
  ModelHandle model;
  ASSERT_EQ(edgellm_model_load_file(tiny().path.c_str(), &model.m), EDGELLM_OK);
  const std::string text = "Grüße, 世界 <|endoftext|>";
  std::vector<int32_t> ids(4);
  size_t n = 0;
  ASSERT_EQ(edgellm_tokenize(model.m, text.data(), text.size(), false, false, ids.data(), ids.size(), &n),
            EDGELLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, text.size());  // byte tokens: one per byte (the special text stays plain text)
  EXPECT_NE(std::string(edgellm_last_error()).find("needed"), std::string::npos);
  ids.resize(n);
  ASSERT_EQ(edgellm_tokenize(model.m, text.data(), text.size(), false, false, ids.data(), ids.size(), &n), EDGELLM_OK);
  size_t n_special = 0;
  std::vector<int32_t> with_special(64);
  ASSERT_EQ(edgellm_tokenize(model.m, text.data(), text.size(), false, true, with_special.data(), 64, &n_special),
            EDGELLM_OK);
  EXPECT_EQ(with_special[n_special - 1], 256);

  std::string out(text.size(), '\0');
  size_t length = 0;
  ASSERT_EQ(edgellm_detokenize(model.m, ids.data(), n, false, out.data(), 3, &length), EDGELLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(length, text.size());
  ASSERT_EQ(edgellm_detokenize(model.m, ids.data(), n, false, out.data(), out.size(), &length), EDGELLM_OK);
  EXPECT_EQ(out, text);
  const int32_t bad[2] = {65, 300};
  EXPECT_EQ(edgellm_detokenize(model.m, bad, 2, false, out.data(), out.size(), &length), EDGELLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(edgellm_last_error()).find("300"), std::string::npos);
}

std::string generate(edgellm_context* ctx, const std::string& prompt, int32_t max_tokens, int32_t* n_out = nullptr) {
  std::string text;
  const auto append = [](const char* piece, size_t length, void* user) {
    static_cast<std::string*>(user)->append(piece, length);
    return true;
  };
  EXPECT_EQ(edgellm_generate(ctx, prompt.data(), prompt.size(), max_tokens, append, &text, n_out), EDGELLM_OK)
      << edgellm_last_error();
  return text;
}

TEST(CApi, GenerateEqualsAManualGreedyLoopAndContinues) {
  ModelHandle model;
  ASSERT_EQ(edgellm_model_load_file(tiny().path.c_str(), &model.m), EDGELLM_OK);
  const edgellm_context_params p = greedy_params();

  // Manual loop: eval the prompt, then sample / eval one token at a time.
  ContextHandle manual;
  ASSERT_EQ(edgellm_context_create(model.m, &p, &manual.c), EDGELLM_OK);
  std::vector<int32_t> ids(16);
  size_t n = 0;
  ASSERT_EQ(edgellm_tokenize(model.m, "abc", 3, true, false, ids.data(), ids.size(), &n), EDGELLM_OK);
  const float* logits = nullptr;
  ASSERT_EQ(edgellm_eval(manual.c, ids.data(), n, &logits), EDGELLM_OK);
  std::vector<int32_t> generated;
  for (int i = 0; i < 12; ++i) {
    int32_t id = -1;
    ASSERT_EQ(edgellm_sample(manual.c, logits, &id), EDGELLM_OK);
    if (edgellm_model_is_end_of_generation(model.m, id)) break;
    generated.push_back(id);
    ASSERT_EQ(edgellm_eval(manual.c, &id, 1, &logits), EDGELLM_OK);
  }
  // Generated text streams whole characters only: invalid bytes of this random model come out
  // as U+FFFD, exactly as the C++ stream decoder gives them.
  const auto reference = edgellm::model::Model::load(tiny().path.string());
  const edgellm::Tokenizer tokenizer = edgellm::Tokenizer::from_gguf(reference->file());
  edgellm::StreamDecoder decoder(tokenizer);
  std::string expected;
  for (int32_t id : generated) expected += decoder.push(id);
  expected += decoder.flush();

  ContextHandle one_go, two_parts;
  ASSERT_EQ(edgellm_context_create(model.m, &p, &one_go.c), EDGELLM_OK);
  ASSERT_EQ(edgellm_context_create(model.m, &p, &two_parts.c), EDGELLM_OK);
  int32_t n_generated = 0;
  EXPECT_EQ(generate(one_go.c, "abc", 12, &n_generated), expected);
  EXPECT_GT(n_generated, 0);
  // Stopping at max_tokens and continuing with an empty prompt gives the same tokens.
  const std::string first = generate(two_parts.c, "abc", 5);
  EXPECT_EQ(first + generate(two_parts.c, "", 7), expected);

  // The callback can stop the generation.
  ContextHandle stopped;
  ASSERT_EQ(edgellm_context_create(model.m, &p, &stopped.c), EDGELLM_OK);
  int calls = 0;
  const auto stop_after_two = [](const char*, size_t, void* user) { return ++*static_cast<int*>(user) < 2; };
  ASSERT_EQ(edgellm_generate(stopped.c, "abc", 3, 12, stop_after_two, &calls, &n_generated), EDGELLM_OK);
  EXPECT_EQ(calls, 2);
  edgellm_context_reset(stopped.c);
  EXPECT_EQ(edgellm_context_n_past(stopped.c), 0);
  EXPECT_EQ(generate(stopped.c, "abc", 12), expected);  // reset forgets tokens and sampler state
}

TEST(CApi, FailuresAreStatusCodesWithMessages) {
  edgellm_model* model = reinterpret_cast<edgellm_model*>(0x1);
  EXPECT_EQ(edgellm_model_load_file("/nonexistent/model.gguf", &model), EDGELLM_ERR_BAD_MODEL);
  EXPECT_EQ(model, nullptr);
  EXPECT_NE(std::string(edgellm_last_error()).find("model.gguf"), std::string::npos);
  EXPECT_EQ(edgellm_model_load_file(nullptr, &model), EDGELLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(edgellm_model_load_file(tiny().path.c_str(), nullptr), EDGELLM_ERR_INVALID_ARGUMENT);
  // Truncated at many points: always a clean BAD_MODEL, never a crash.
  for (size_t cut : {size_t{0}, size_t{3}, size_t{24}, size_t{100}, tiny().bytes.size() / 2, tiny().bytes.size() - 1}) {
    EXPECT_EQ(edgellm_model_load_buffer(tiny().bytes.data(), cut, &model), EDGELLM_ERR_BAD_MODEL) << cut;
    EXPECT_STRNE(edgellm_last_error(), "");
  }
  EXPECT_EQ(edgellm_model_load_fd(-1, 0, 0, &model), EDGELLM_ERR_BAD_MODEL);

  ModelHandle good;
  ASSERT_EQ(edgellm_model_load_file(tiny().path.c_str(), &good.m), EDGELLM_OK);
  edgellm_context_params p = greedy_params();
  p.top_p = 2.0f;
  edgellm_context* ctx = nullptr;
  EXPECT_EQ(edgellm_context_create(good.m, &p, &ctx), EDGELLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(edgellm_last_error()).find("top_p"), std::string::npos);
  p = greedy_params();
  p.n_ctx = 8;
  ContextHandle small;
  ASSERT_EQ(edgellm_context_create(good.m, &p, &small.c), EDGELLM_OK);
  const int32_t unknown[1] = {300};
  EXPECT_EQ(edgellm_eval(small.c, unknown, 1, nullptr), EDGELLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(edgellm_last_error()).find("300"), std::string::npos);
  const std::vector<int32_t> nine(9, 65);
  EXPECT_EQ(edgellm_eval(small.c, nine.data(), nine.size(), nullptr), EDGELLM_ERR_CONTEXT_FULL);
  EXPECT_NE(std::string(edgellm_last_error()).find("context"), std::string::npos);
  EXPECT_EQ(edgellm_context_n_past(small.c), 0);  // nothing was evaluated
  EXPECT_EQ(edgellm_eval(small.c, nullptr, 0, nullptr), EDGELLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(edgellm_sample(small.c, nullptr, nullptr), EDGELLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(edgellm_generate(small.c, "a long prompt that does not fit", 31, 4, nullptr, nullptr, nullptr),
            EDGELLM_ERR_CONTEXT_FULL);
  // Generation that reaches the end of the context stops without an error.
  int32_t n_generated = 0;
  EXPECT_EQ(edgellm_generate(small.c, "ab", 2, 100, nullptr, nullptr, &n_generated), EDGELLM_OK);
  EXPECT_LE(n_generated, 8);
  edgellm_model_free(nullptr);  // accepted, like free()
  edgellm_context_free(nullptr);
}

TEST(CApi, ErrorMessagesArePerThread) {
  edgellm_model* model = nullptr;
  ASSERT_EQ(edgellm_model_load_file("/nonexistent/a.gguf", &model), EDGELLM_ERR_BAD_MODEL);
  std::string other;
  std::thread([&] { other = edgellm_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(edgellm_last_error()).find("a.gguf"), std::string::npos);
}

TEST(CApi, VersionNamesTheKernelSet) {
  const std::string v = edgellm_version();
  EXPECT_EQ(v.rfind("edgellm ", 0), 0u);
  EXPECT_NE(v.find('('), std::string::npos);
  EXPECT_EQ(v.find("unknown"), std::string::npos);
}

TEST(CApi, UsableFromPlainC) {
  char text[4096];
  size_t length = 0;
  ASSERT_EQ(capi_c_smoke(tiny().path.c_str(), text, sizeof text, &length), 0) << edgellm_last_error();
  ModelHandle model;
  ASSERT_EQ(edgellm_model_load_file(tiny().path.c_str(), &model.m), EDGELLM_OK);
  ContextHandle ctx;
  const edgellm_context_params p = greedy_params();
  ASSERT_EQ(edgellm_context_create(model.m, &p, &ctx.c), EDGELLM_OK);
  EXPECT_EQ(std::string(text, length), generate(ctx.c, "hello", 8));
}

}  // namespace
