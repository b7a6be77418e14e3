// Interop with the reference llama.cpp (tools/reference/llamacpp, from npm): our converted
// deepseek2 GGUFs must load in llama.cpp and give the logits edgellm gives. This checks the
// file itself (key names and meanings, tensor names, the k_b transpose, expert stacking, RoPE
// convention, score scale with YaRN mscale, routing). Skips when the reference is not
// installed (bash tools/reference/llamacpp/install.sh) or python3 lacks numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "model/model_test_util.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
const std::string kCli = EDGELLM_CLI;
const std::string kSource = EDGELLM_SOURCE_DIR;
const std::string kScripts = kSource + "/tests/model/";

bool reference_ready(std::string& why) {
  const CommandResult node = run_command("node --version");
  if (node.exit_code != 0) {
    why = "node is not installed";
    return false;
  }
  const CommandResult check = run_command("bash " + kSource + "/tools/reference/llamacpp/install.sh --check");
  if (check.exit_code != 0) {
    why = "reference llama.cpp not installed (bash tools/reference/llamacpp/install.sh): " + check.output;
    return false;
  }
  const CommandResult py = run_command("/usr/bin/python3 -c 'import numpy'");
  if (py.exit_code != 0) why = "python3 lacks numpy";
  return py.exit_code == 0;
}

void run_ok(const std::string& cmd) {
  const CommandResult r = run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
}

class Deepseek2LlamaCppTest : public ::testing::TestWithParam<std::string> {};

TEST_P(Deepseek2LlamaCppTest, LlamaCppLoadsOurFileAndAgrees) {
  std::string why;
  if (!reference_ready(why)) GTEST_SKIP() << why;
  const std::string variant = GetParam();
  TempDir tmp("edgellm-ds2-llamacpp-" + variant);
  const fs::path hf = tmp.path() / "hf", gguf = tmp.path() / "m.gguf";
  run_ok("/usr/bin/python3 " + kScripts + "make_tiny_deepseek2.py " + hf.string() + " --variant " + variant);
  run_ok(kCli + " convert " + hf.string() + " " + gguf.string() + " --type f32");
  const std::string tokens = "5,77,190,3,41,250,12,99,150,8,64,200,31,17,222,101,45,9,180,260,33,71,128,2,"
                             "56,140,205,19,88,160,240,7,115,66,27,198,254,84,11,170";
  const fs::path ours = tmp.path() / "ours.f32", theirs = tmp.path() / "theirs.f32";
  run_ok("node " + kSource + "/tools/reference/llamacpp/llamacpp_ref.mjs logits " + gguf.string() + " " + tokens +
         " " + theirs.string() + " --kv-type f32");
  for (const std::string extra : {"", "--batch 1"}) {
    run_ok(kCli + " logits -m " + gguf.string() + " --tokens " + tokens + " --out " + ours.string() + " --kv-type f32 " + extra);
    const std::vector<float> a = read_f32_file(ours), b = read_f32_file(theirs);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    double max_abs = 0, max_ref = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      max_abs = std::max(max_abs, std::abs(static_cast<double>(a[i]) - b[i]));
      max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
    }
    // Both compute in float32 from the same F32 file and cache, in different orders (ggml's
    // tiled matmuls, its own softmax and RoPE tables): observed differences are ~1e-5 on
    // logits of ~10. 1e-3 absolute; a layout or key mistake gives O(1) differences.
    EXPECT_LT(max_abs, 1e-3) << variant << " " << extra << " (largest logit " << max_ref << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Deepseek2LlamaCppTest,
                         ::testing::Values("lite", "v2_qlora_yarn", "v3_groups", "tied_bf16"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace edgellm::test
