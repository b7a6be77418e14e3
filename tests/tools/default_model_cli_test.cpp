// The bundled default model (models/default.gguf): `edgellm run` and `chat` use it without -m,
// the lookup order ($EDGELLM_DEFAULT_MODEL first) and its error, and a greedy-output regression
// check. default_model_tokenizer_test.cpp checks its tokenizer against the trainer's.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "default_model_fixture.h"

namespace {

using namespace default_model_test;

// Regression check: the greedy continuation of the committed model, recorded once when the model
// was trained (tools/train_default_model/train.py). A change in the model file, the tokenizer or
// the forward pass that alters greedy decoding shows here; re-record it when retraining.
constexpr const char* kExpectedContinuation =
    "And God said unto them, What shall I do?\nAnd he said, I will not be afraid of the LORD, and I\n";

TEST_F(DefaultModel, RunWithoutModelFlagUsesTheBundledModel) {
  const Result r = run(std::string("env -u EDGELLM_DEFAULT_MODEL ") + EDGELLM_CLI +
                       " run -p \"And God said\" -n 24 --temp 0 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("using the bundled default model"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("models/default.gguf"), std::string::npos) << r.err;
  EXPECT_GT(r.out.size(), 40u) << r.out;
  EXPECT_EQ(r.out, kExpectedContinuation);
}

TEST_F(DefaultModel, EnvironmentVariableComesFirstAndMissingFileIsAClearError) {
  const fs::path copy = dir_ / "copy.gguf";
  fs::copy_file(kSource / "models/default.gguf", copy);
  const Result r = run("EDGELLM_DEFAULT_MODEL=" + copy.string() + " " + EDGELLM_CLI +
                       " run -p \"In the beginning\" -n 4 --temp 0 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(copy.string()), std::string::npos) << r.err;

  const Result missing = run("EDGELLM_DEFAULT_MODEL=" + (dir_ / "nope.gguf").string() + " " + EDGELLM_CLI +
                             " run -p hi -n 4");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("EDGELLM_DEFAULT_MODEL=" + (dir_ / "nope.gguf").string() + " does not exist"),
            std::string::npos)
      << missing.err;
}

TEST_F(DefaultModel, ChatWithoutModelFlagAnswers) {
  const Result r = run(std::string("env -u EDGELLM_DEFAULT_MODEL ") + EDGELLM_CLI + " chat -n 12 --temp 0 -t 1",
                       "And God said\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty()) << r.err;
  EXPECT_NE(r.err.find("using the bundled default model"), std::string::npos) << r.err;
}

}  // namespace
