// Helpers for the model/runtime tests: a synthetic llama/qwen2 GGUF built in memory with random
// weights (for self-contained unit tests), shell commands with captured output, raw float files.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "kernels/quant/quant.h"
#include "tokenizer/tokenizer.h"

namespace edgellm::test {

struct TinyGgufOptions {
  std::string arch = "llama";
  int64_t n_embd = 32, n_layer = 2, n_ff = 48, n_head = 4, n_head_kv = 2, n_vocab = 50;
  int64_t n_ctx = 64;
  bool tied = false;
  bool qkv_bias = false;
  TensorType weight_type = TensorType::F32;
  std::string skip_tensor;       // leave this tensor out
  std::string misshape_tensor;   // give this 2-D tensor one row too many
  bool with_tokenizer = false;   // add a byte-level tokenizer (needs n_vocab >= 257)
  uint32_t seed = 7;
  std::function<void(gguf::GgufWriter&)> extra_metadata;  // more keys (e.g. RoPE scaling)
};

// A byte-level BPE tokenizer.json: the 256 byte tokens (GPT-2's byte-to-character table), no
// merges but "q z" (id 257, absent from the test texts), and <|endoftext|> (id 256) as EOS.
inline std::string tiny_tokenizer_json() {
  std::string vocab;
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : 256u + static_cast<uint32_t>(extra++);
    std::string ch;  // UTF-8 of cp (< 0x800)
    if (cp < 0x80) {
      ch = std::string(1, static_cast<char>(cp));
    } else {
      ch += static_cast<char>(0xC0 | (cp >> 6));
      ch += static_cast<char>(0x80 | (cp & 0x3F));
    }
    if (b > 0) vocab += ',';
    vocab += '"';
    if (ch == "\"" || ch == "\\") vocab += '\\';
    vocab += ch;
    vocab += "\":";
    vocab += std::to_string(b);
  }
  return R"({"version":"1.0","added_tokens":[{"id":256,"content":"<|endoftext|>","special":true}],)"
         R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},)"
         R"("decoder":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{)" +
         vocab + R"(,"<|endoftext|>":256,"qz":257},"merges":["q z"]}})";
}

inline std::vector<uint8_t> make_tiny_gguf(const TinyGgufOptions& o) {
  namespace key = gguf::key;
  namespace tn = gguf::tensor;
  gguf::GgufWriter w;
  w.set_string(key::kArchitecture, o.arch);
  w.set_string(key::kName, "tiny-test");
  const auto u32 = [&](std::string_view suffix, int64_t v) {
    w.set_u32(gguf::arch_key(o.arch, suffix), static_cast<uint32_t>(v));
  };
  u32(key::kContextLength, o.n_ctx);
  u32(key::kEmbeddingLength, o.n_embd);
  u32(key::kBlockCount, o.n_layer);
  u32(key::kFeedForwardLength, o.n_ff);
  u32(key::kHeadCount, o.n_head);
  u32(key::kHeadCountKv, o.n_head_kv);
  w.set_f32(gguf::arch_key(o.arch, key::kRmsEpsilon), 1e-5f);
  w.set_f32(gguf::arch_key(o.arch, key::kRopeFreqBase), 10000.0f);
  if (o.extra_metadata) o.extra_metadata(w);
  if (o.with_tokenizer) {
    Tokenizer tok = Tokenizer::from_hf_files(tiny_tokenizer_json(), R"({"eos_token":"<|endoftext|>"})");
    tok.pad_vocab_to(static_cast<int32_t>(o.n_vocab));
    tok.write_gguf_metadata(w);
  }

  std::mt19937 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto add = [&](const std::string& name, std::vector<int64_t> dims, float scale, float offset,
                       TensorType type) {
    if (name == o.skip_tensor) return;
    if (name == o.misshape_tensor && dims.size() == 2) dims[1] += 1;
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = offset + scale * normal(rng);
    std::vector<uint8_t> bytes(row_bytes(type, dims[0]) * static_cast<size_t>(n / dims[0]));
    quant::quantize_rows(type, v.data(), bytes.data(), n / dims[0], dims[0]);
    w.add_tensor(name, type, std::move(dims), bytes);
  };
  const int64_t hd = o.n_embd / o.n_head;
  const float s = 1.0f / std::sqrt(static_cast<float>(o.n_embd));
  add(std::string(tn::kTokenEmbedding), {o.n_embd, o.n_vocab}, 1.0f, 0.0f, o.weight_type);
  add(std::string(tn::kOutputNorm), {o.n_embd}, 0.1f, 1.0f, TensorType::F32);
  if (!o.tied) add(std::string(tn::kOutput), {o.n_embd, o.n_vocab}, s, 0.0f, o.weight_type);
  for (int i = 0; i < o.n_layer; ++i) {
    using gguf::block_tensor;
    add(block_tensor(i, tn::kAttnNorm), {o.n_embd}, 0.1f, 1.0f, TensorType::F32);
    add(block_tensor(i, tn::kAttnQ), {o.n_embd, o.n_head * hd}, 2 * s, 0.0f, o.weight_type);
    add(block_tensor(i, tn::kAttnK), {o.n_embd, o.n_head_kv * hd}, 2 * s, 0.0f, o.weight_type);
    add(block_tensor(i, tn::kAttnV), {o.n_embd, o.n_head_kv * hd}, s, 0.0f, o.weight_type);
    if (o.qkv_bias) {
      add(block_tensor(i, tn::kAttnQ, "bias"), {o.n_head * hd}, 0.5f, 0.0f, TensorType::F32);
      add(block_tensor(i, tn::kAttnK, "bias"), {o.n_head_kv * hd}, 0.5f, 0.0f, TensorType::F32);
      add(block_tensor(i, tn::kAttnV, "bias"), {o.n_head_kv * hd}, 0.5f, 0.0f, TensorType::F32);
    }
    add(block_tensor(i, tn::kAttnOutput), {o.n_head * hd, o.n_embd}, s, 0.0f, o.weight_type);
    add(block_tensor(i, tn::kFfnNorm), {o.n_embd}, 0.1f, 1.0f, TensorType::F32);
    add(block_tensor(i, tn::kFfnGate), {o.n_embd, o.n_ff}, s, 0.0f, o.weight_type);
    add(block_tensor(i, tn::kFfnUp), {o.n_embd, o.n_ff}, s, 0.0f, o.weight_type);
    add(block_tensor(i, tn::kFfnDown), {o.n_ff, o.n_embd}, s, 0.0f, o.weight_type);
  }
  return w.write_buffer();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  std::FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::vector<float> read_f32_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

// A fresh, empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& stem) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace edgellm::test
