// TinyStories' tokenizer.json against an independent Python implementation of Hugging Face BPE
// (hf_bpe_reference.py: merges by rank; the engine merges by score), on many generated texts.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace edgellm {
namespace {

namespace fs = std::filesystem;

const std::string kTinyStories = std::string(EDGELLM_SHARED_DIR) + "/models/tinystories-656k/tokenizer.json";
const std::string kReference = std::string(EDGELLM_SOURCE_DIR) + "/tests/tokenizer/hf_bpe_reference.py";

// Story-like text: vocabulary words, spaces, punctuation, and characters the vocabulary lacks.
std::vector<std::string> make_cases(const Tokenizer& t) {
  std::vector<std::string> words;
  for (int32_t id = 3; id < t.n_vocab(); ++id) words.push_back(t.token_to_piece(id));
  const std::vector<std::string> odd = {"\xc3\xa9", "\xe4\xbd\xa0", "\xf0\x9f\x98\x80", "\t", "  ", "\n\n", "#", "@"};
  std::mt19937 rng(2024);
  std::vector<std::string> cases;
  for (int i = 0; i < 1500; ++i) {
    std::string text;
    const int n = std::uniform_int_distribution<int>(1, 25)(rng);
    for (int w = 0; w < n; ++w) {
      const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
      if (kind < 7) {
        text += words[std::uniform_int_distribution<size_t>(0, words.size() - 1)(rng)];
      } else if (kind < 9) {
        text += ' ';
      } else {
        text += odd[std::uniform_int_distribution<size_t>(0, odd.size() - 1)(rng)];
      }
    }
    cases.push_back(text);
  }
  // Long texts repeat their pieces, which the engine then looks up instead of merging again.
  for (int i = 0; i < 8; ++i) {
    std::string text;
    for (int j = 0; j < 150; ++j) text += cases[std::uniform_int_distribution<size_t>(0, 1499)(rng)] + (j % 9 ? " " : "\n");
    cases.push_back(text);
  }
  for (const auto& c : test::read_vocab_test_cases(std::string(EDGELLM_SHARED_DIR) +
                                                   "/tokenizers/vocab-tests/ggml-vocab-gpt-2.gguf.inp")) {
    cases.push_back(c);
  }
  return cases;
}

TEST(TokenizerPython, TinyStoriesMatchesIndependentReference) {
  if (!fs::exists(kTinyStories)) GTEST_SKIP() << "shared file " << kTinyStories << " is absent (needs ../shared)";
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  const Tokenizer t = load_tokenizer_file(kTinyStories);
  const std::vector<std::string> cases = make_cases(t);

  const fs::path input = fs::temp_directory_path() / fmt::format("edgellm_tok_py_{}.txt", getpid());
  {
    std::ofstream out(input, std::ios::binary);
    for (size_t i = 0; i < cases.size(); ++i) out << (i ? "\n__ggml_vocab_test__\n" : "") << cases[i];
  }
  const std::string command = "/usr/bin/python3 " + kReference + " " + kTinyStories + " " + input.string();
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[65536];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  fs::remove(input);
  ASSERT_EQ(status, 0) << "reference failed: " << command;

  const fs::path expected_file = fs::temp_directory_path() / fmt::format("edgellm_tok_py_{}.out", getpid());
  std::ofstream(expected_file, std::ios::binary) << output;
  const auto expected = test::read_expected_ids(expected_file.string());
  fs::remove(expected_file);
  ASSERT_GE(expected.size(), cases.size());
  size_t matched = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = t.encode(cases[i], false);
    EXPECT_EQ(got, expected[i]) << "case " << i << ": " << cases[i];
    matched += got == expected[i];
  }
  EXPECT_EQ(matched, cases.size());
}

}  // namespace
}  // namespace edgellm
