// The run / logits / perplexity / convert commands on small synthetic files: normal use and
// every bad input the issue lists (unknown arch, missing tensor, prompt longer than the
// context, unknown token id, unsupported checkpoint), each a clear error and a non-zero exit.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "gguf/gguf_file.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
const std::string kCli = EDGELLM_CLI;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { model_ = write_model(base_options(), "model.gguf"); }

  static TinyGgufOptions base_options() {
    TinyGgufOptions o;
    o.with_tokenizer = true;
    o.n_vocab = 260;
    o.n_ctx = 16;
    return o;
  }
  std::string write_model(const TinyGgufOptions& o, const std::string& name) {
    const std::vector<uint8_t> bytes = make_tiny_gguf(o);
    const fs::path p = dir_.path() / name;
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }
  static CommandResult cli(const std::string& args) { return run_command(kCli + " " + args); }
  static void expect_error(const std::string& args, const std::string& message) {
    const CommandResult r = cli(args);
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\nexpected: " << message << "\ngot: " << r.output;
  }

  TempDir dir_{"edgellm-cli"};
  std::string model_;
};

TEST_F(CliTest, RunGeneratesAndReportsSpeed) {
  const CommandResult r = cli("run -m " + model_ + " -p 'hello' -n 6 --temp 0 -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("hello", 0), 0u) << r.output;
  // The end-of-run line: load time, prompt and generation speed, peak RSS, all measured.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m,
                                std::regex(R"(load: ([0-9.]+) s \| prompt: 5 tokens, ([0-9.]+) tokens/s \| )"
                                           R"(generation: ([0-9]+) tokens, ([0-9.]+) tokens/s \| peak RSS: ([0-9.]+) MiB)")))
      << r.output;
  EXPECT_GT(std::stod(m[1]), 0.0);
  EXPECT_GT(std::stod(m[2]), 0.0);
  EXPECT_GE(std::stoi(m[3]), 1);
  EXPECT_LE(std::stoi(m[3]), 6);
  if (std::stoi(m[3]) > 1) {
    EXPECT_GT(std::stod(m[4]), 0.0);
  }
  EXPECT_GT(std::stod(m[5]), 1.0);  // at least the binary itself
  // Greedy is deterministic; sampling with a seed too.
  EXPECT_EQ(cli("run -m " + model_ + " -p 'hello' -n 6 --temp 0 -t 1").output.substr(0, 12), r.output.substr(0, 12));
  const CommandResult a = cli("run -m " + model_ + " -p 'hi' -n 6 --temp 1 --seed 5 --top-k 0 --top-p 1 --min-p 0");
  const CommandResult b = cli("run -m " + model_ + " -p 'hi' -n 6 --temp 1 --seed 5 --top-k 0 --top-p 1 --min-p 0");
  EXPECT_EQ(a.output.substr(0, a.output.find("load:")), b.output.substr(0, b.output.find("load:")));
}

TEST_F(CliTest, BadInputsAreClearErrors) {
  expect_error("run -m " + model_ + " -p 'this prompt is far longer than sixteen tokens'", "does not fit in the context of 16");
  expect_error("logits -m " + model_ + " --tokens 1,999 --out " + (dir_.path() / "o.f32").string(), "token id 999");
  expect_error("logits -m " + model_ + " --tokens 1,x --out " + (dir_.path() / "o.f32").string(), "not a token id");
  expect_error("run -m " + model_ + " -p hi --kv-type q4", "unknown KV cache type 'q4'");
  expect_error("run -m " + (dir_.path() / "absent.gguf").string() + " -p hi", "absent.gguf");

  TinyGgufOptions o = base_options();
  o.arch = "mamba";
  expect_error("run -m " + write_model(o, "mamba.gguf") + " -p hi", "unknown model architecture 'mamba'");
  o = base_options();
  o.skip_tensor = "blk.0.attn_output.weight";
  expect_error("logits -m " + write_model(o, "missing.gguf") + " --tokens 1 --out x.f32",
               "missing tensor 'blk.0.attn_output.weight'");
  o = base_options();
  o.misshape_tensor = "output.weight";
  expect_error("run -m " + write_model(o, "shape.gguf") + " -p hi", "tensor 'output.weight' has shape");
}

TEST_F(CliTest, ContextFullStopsGenerationCleanly) {
  // 16 positions: a 4-token prompt leaves room for 12 more; asking for 40 stops at the limit.
  const CommandResult r = cli("run -m " + model_ + " -p 'abcd' -n 40 --temp 0");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("context of 16 tokens is full"), std::string::npos) << r.output;
}

TEST_F(CliTest, PerplexityScoresTheSecondHalfOfEachWindow) {
  const fs::path text = dir_.path() / "text.txt";
  std::string content;
  for (int i = 0; i < 5; ++i) content += "the cat sat on a mat. ";  // 110 bytes = 110 tokens
  std::ofstream(text) << content;
  const CommandResult r = cli("perplexity -m " + model_ + " -f " + text.string() + " -c 16 --kv-type f32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(PPL = ([0-9.]+) \+/- ([0-9.]+))"))) << r.output;
  const double ppl = std::stod(m[1]);
  EXPECT_NE(r.output.find("[6]"), std::string::npos) << "110 tokens make 6 windows of 16\n" << r.output;

  // Independent computation: tokens are bytes (no merges, no BOS), windows of 16, positions
  // 8..14 predict tokens 9..15.
  const auto model = model::Model::load(model_);
  runtime::ThreadPool pool(1);
  runtime::SessionParams p;
  p.n_ctx = 16;
  p.kv_type = runtime::KvType::F32;
  runtime::Session s(*model, p, pool);
  const auto token_of = [](unsigned char c) { return static_cast<int32_t>(c); };
  double nll = 0;
  int count = 0;
  for (size_t w = 0; w < 6; ++w) {
    std::vector<int32_t> win;
    for (size_t i = 0; i < 16; ++i) win.push_back(token_of(static_cast<unsigned char>(content[w * 16 + i])));
    s.reset();
    const auto lg = s.eval(win, 16);
    for (size_t j = 8; j < 15; ++j) {
      const float* row = lg.data() + j * 260;
      double z = 0;
      for (int v = 0; v < 260; ++v) z += std::exp(static_cast<double>(row[v]));
      nll += std::log(z) - row[win[j + 1]];
      ++count;
    }
  }
  EXPECT_NEAR(ppl, std::exp(nll / count), 1e-3 * ppl);

  // llama.cpp's rule: at least two windows of text, even though only one would be scored.
  std::ofstream(text) << "twenty bytes of text";
  expect_error("perplexity -m " + model_ + " -f " + text.string() + " -c 16",
               "you need at least 32 tokens to evaluate perplexity with a context of 16");
  std::ofstream(text) << "thirty-two bytes of text, twice.";
  EXPECT_EQ(cli("perplexity -m " + model_ + " -f " + text.string() + " -c 16").exit_code, 0);
}

TEST_F(CliTest, ConvertRefusesUnsupportedCheckpoints) {
  const fs::path hf = dir_.path() / "hf";
  fs::create_directories(hf);
  std::ofstream(hf / "tokenizer.json") << tiny_tokenizer_json();
  // One F32 tensor of shape [2, 4] plus an unknown one.
  const std::string header =
      R"({"model.embed_tokens.weight":{"dtype":"F32","shape":[2,4],"data_offsets":[0,32]},)"
      R"("model.vision_tower.weight":{"dtype":"F32","shape":[2],"data_offsets":[32,40]}})";
  {
    std::ofstream st(hf / "model.safetensors", std::ios::binary);
    const uint64_t len = header.size();
    st.write(reinterpret_cast<const char*>(&len), 8);
    st << header << std::string(40, '\0');
  }
  const std::string out = (dir_.path() / "out.gguf").string();
  std::ofstream(hf / "config.json") << R"({"architectures":["GPT2LMHeadModel"]})";
  expect_error("convert " + hf.string() + " " + out, "unsupported Hugging Face architecture 'GPT2LMHeadModel'");
  std::ofstream(hf / "config.json") << R"({"architectures":["LlamaForCausalLM"],"hidden_size":4,)"
                                       R"("num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":8,)"
                                       R"("max_position_embeddings":16,"vocab_size":2,"rms_norm_eps":1e-5})";
  expect_error("convert " + hf.string() + " " + out, "unsupported tensor 'model.vision_tower.weight'");
  expect_error("convert " + hf.string() + " " + out + " --type q4_k", "unknown --type 'q4_k'");
  std::ofstream(hf / "config.json") << R"({"architectures":["LlamaForCausalLM"],"hidden_size":4,)"
                                       R"("num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":8,)"
                                       R"("max_position_embeddings":16,"vocab_size":2,"rms_norm_eps":1e-5,)"
                                       R"("rope_scaling":{"type":"dynamic","factor":2.0}})";
  expect_error("convert " + hf.string() + " " + out, "rope_scaling type 'dynamic' is not supported");
  fs::remove(hf / "config.json");
  expect_error("convert " + hf.string() + " " + out, "config.json");
  EXPECT_FALSE(fs::exists(out)) << "no partial output is left behind";
}

}  // namespace
}  // namespace edgellm::test
