// The default model's tokenizer: the trainer's pure-Python byte-level BPE encoder
// (tools/train_default_model/bpe.py) and edgellm (from the GGUF and from tokenizer.json) give the
// same ids for held-out KJV text plus edge cases (contractions, CRLF, non-ASCII, emoji).
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "default_model_fixture.h"

namespace {

using namespace default_model_test;

TEST_F(DefaultModel, PythonEncoderAndEdgellmTokenizeIdentically) {
  const fs::path sample = kSource / "tests/tools/data/kjv_held_out_sample.txt";
  const fs::path tokenizer = kSource / "models/default-tokenizer/tokenizer.json";
  const Result py = run("/usr/bin/python3 " + (kSource / "tests/tools/default_model_tokenize.py").string() + " " +
                        tokenizer.string() + " " + sample.string());
  ASSERT_EQ(py.exit_code, 0) << py.err;
  auto words = [](const std::string& s) {
    std::istringstream in(s);
    std::string w, joined;
    while (in >> w) joined += w + " ";
    return joined;
  };
  const std::string expected = words(py.out);
  EXPECT_GT(expected.size(), 10000u);
  for (const fs::path& model : {kSource / "models/default.gguf", tokenizer}) {
    const Result cpp =
        run(std::string(EDGELLM_CLI) + " tokenize -m " + model.string() + " -f " + sample.string() + " --no-bos");
    ASSERT_EQ(cpp.exit_code, 0) << cpp.err;
    EXPECT_EQ(words(cpp.out), expected) << model;
  }
}

}  // namespace
