// Helpers for the quantization tests: CLI runs, synthetic models on disk, GGUF tensor
// comparisons, logit statistics.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "model/model_test_util.h"

namespace edgellm::test {

inline const std::string kCli = EDGELLM_CLI;
inline const std::string kSourceDir = EDGELLM_SOURCE_DIR;
inline const std::string kSharedDir = EDGELLM_SHARED_DIR;

// Runs an edgellm command line; fails the test (with the output) when it exits non-zero.
inline std::string cli_ok(const std::string& args) {
  const CommandResult r = run_command(kCli + " " + args);
  EXPECT_EQ(r.exit_code, 0) << kCli << " " << args << "\n" << r.output;
  return r.output;
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The first number after `label` in text (e.g. "Mean KLD              : 0.0123"), or NaN.
inline double number_after(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return NAN;
  std::smatch m;
  const std::string rest = text.substr(at + label.size());
  if (!std::regex_search(rest, m, std::regex(R"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"))) return NAN;
  return std::stod(m[0]);
}

// Tensor-by-tensor differences of two GGUFs (names, types, dims, bytes); empty when equal.
inline std::vector<std::string> tensor_differences(const std::string& a_path, const std::string& b_path) {
  const gguf::GgufFile a = gguf::GgufFile::open(a_path), b = gguf::GgufFile::open(b_path);
  std::vector<std::string> diffs;
  if (a.tensors().size() != b.tensors().size())
    diffs.push_back("tensor counts " + std::to_string(a.tensors().size()) + " vs " + std::to_string(b.tensors().size()));
  for (const auto& t : a.tensors()) {
    const gguf::TensorInfo* u = b.find_tensor(t.name);
    if (!u) {
      diffs.push_back(t.name + ": missing");
    } else if (t.type != u->type) {
      diffs.push_back(t.name + ": " + std::string(type_name(t.type)) + " vs " + std::string(type_name(u->type)));
    } else if (t.dims != u->dims || t.n_bytes != u->n_bytes || std::memcmp(t.data, u->data, t.n_bytes) != 0) {
      diffs.push_back(t.name + " (" + std::string(type_name(t.type)) + "): bytes differ");
    }
  }
  return diffs;
}

struct LogitDiff {
  double rms = 0, max_abs = 0, top1_agreement = 0;
};

inline LogitDiff compare_logits(const std::vector<float>& a, const std::vector<float>& b, size_t n_vocab) {
  LogitDiff d;
  EXPECT_EQ(a.size(), b.size());
  if (a.size() != b.size() || a.empty()) return d;
  double sum2 = 0;
  size_t agree = 0;
  const size_t rows = a.size() / n_vocab;
  for (size_t r = 0; r < rows; ++r) {
    size_t ia = 0, ib = 0;
    for (size_t v = 0; v < n_vocab; ++v) {
      const size_t i = r * n_vocab + v;
      const double diff = static_cast<double>(a[i]) - b[i];
      sum2 += diff * diff;
      d.max_abs = std::max(d.max_abs, std::abs(diff));
      if (a[i] > a[r * n_vocab + ia]) ia = v;
      if (b[i] > b[r * n_vocab + ib]) ib = v;
    }
    agree += ia == ib;
  }
  d.rms = std::sqrt(sum2 / static_cast<double>(a.size()));
  d.top1_agreement = static_cast<double>(agree) / static_cast<double>(rows);
  return d;
}

}  // namespace edgellm::test
