// make_random_model OUT.gguf [--arch llama|qwen2] [--embd N] [--ff N] [--layers N] [--heads N]
//                   [--kv-heads N] [--vocab N] [--ctx N] [--tied] [--seed S]
// Writes an F32 random-weight llama/qwen2 GGUF with a byte-level tokenizer (tests/model's
// make_tiny_gguf), for quantization measurements on models whose rows fit the K-quants'
// 256-blocks (TinyStories' 128/384 do not). Random weights carry no learned structure, so
// quality numbers on them only show how much each format perturbs a forward pass.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "model/model_test_util.h"

int main(int argc, char** argv) {
  edgellm::test::TinyGgufOptions o;
  o.n_embd = 256, o.n_ff = 512, o.n_layer = 4, o.n_head = 8, o.n_head_kv = 2, o.n_vocab = 320, o.n_ctx = 512;
  o.with_tokenizer = true;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--arch") o.arch = next();
    else if (a == "--embd") o.n_embd = std::atoll(next());
    else if (a == "--ff") o.n_ff = std::atoll(next());
    else if (a == "--layers") o.n_layer = std::atoll(next());
    else if (a == "--heads") o.n_head = std::atoll(next());
    else if (a == "--kv-heads") o.n_head_kv = std::atoll(next());
    else if (a == "--vocab") o.n_vocab = std::atoll(next());
    else if (a == "--ctx") o.n_ctx = std::atoll(next());
    else if (a == "--seed") o.seed = static_cast<uint32_t>(std::atoll(next()));
    else if (a == "--tied") o.tied = true;
    else if (!a.empty() && a[0] != '-' && out.empty()) out = a;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: make_random_model OUT.gguf [--arch A] [--embd N] [--ff N] [--layers N] "
                         "[--heads N] [--kv-heads N] [--vocab N] [--ctx N] [--tied] [--seed S]\n");
    return 2;
  }
  o.qkv_bias = o.arch == "qwen2";
  const std::vector<uint8_t> bytes = edgellm::test::make_tiny_gguf(o);
  std::ofstream f(out, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", out.c_str());
    return 1;
  }
  std::printf("%s: %s, %lld layers, embd %lld, ff %lld, %lld/%lld heads, vocab %lld, %.1f MiB\n", out.c_str(),
              o.arch.c_str(), static_cast<long long>(o.n_layer), static_cast<long long>(o.n_embd),
              static_cast<long long>(o.n_ff), static_cast<long long>(o.n_head), static_cast<long long>(o.n_head_kv),
              static_cast<long long>(o.n_vocab), static_cast<double>(bytes.size()) / (1 << 20));
  return 0;
}
