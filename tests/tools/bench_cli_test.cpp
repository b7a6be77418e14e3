// `edgellm bench` and `edgellm info --cpu` end to end on a tiny synthetic model: the JSON lines
// parse and carry the fields tools rely on, the markdown table has the tests, the roofline
// prints, and bad arguments are clear errors.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model_test_util.h"

namespace {

namespace fs = std::filesystem;
using edgellm::test::TempDir;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the CLI with `args`; `env` ("NAME=value") is set for it when given.
Result run(const std::string& args, const fs::path& dir, const std::string& env = "") {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = (env.empty() ? "" : "env " + env + " ") + std::string(EDGELLM_CLI) + " " + args + " > " +
                          out.string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));  // throws on bad JSON
  return lines;
}

TEST(BenchCli, JsonLinesHaveTheRequiredFields) {
  TempDir dir("bench-cli-test");
  const fs::path model = dir.path() / "tiny.gguf";
  const Result r = run("bench --synthetic tiny-qwen2 --type q8_0 --synthetic-out " + model.string() +
                           " -p 8 -n 4 -r 2 -t 1 --json", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(model));  // --synthetic-out keeps the file
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;  // pp8, tg4, memory
  for (size_t i = 0; i < 2; ++i) {
    const auto& j = lines[i];
    EXPECT_EQ(j.at("test"), i == 0 ? "pp8" : "tg4");
    EXPECT_EQ(j.at("threads"), 1);
    EXPECT_EQ(j.at("type"), "Q8_0");
    EXPECT_EQ(j.at("size").get<uint64_t>(), fs::file_size(model));
    EXPECT_EQ(j.at("samples_ts").size(), 2u);
    for (const char* key : {"avg_ts", "stddev_ts", "bound_ts", "fraction_of_bound", "cpu_ts", "cpu_fraction_of_bound",
                            "read_bandwidth_gbps", "load_average"}) {
      const double v = j.at(key).get<double>();
      EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << key << " = " << v;
    }
    EXPECT_GT(j.at("avg_ts").get<double>(), 0.0);
    const auto& samples = j.at("samples_ts");
    const auto& reads = j.at("read_bandwidth_samples_gbps");
    const auto& peaks = j.at("peak_samples_gops");
    if (i == 0) {  // prefill: each repetition against the int8 peak probed right before and after it
      EXPECT_TRUE(reads.empty());
      EXPECT_TRUE(j.at("read_bandwidth_mean_pass_samples_gbps").empty());
      EXPECT_TRUE(j.at("fraction_of_mean_pass_read").is_null());
      ASSERT_EQ(peaks.size(), 3u);
      // The prompt's logits are its last token's: the output projection counts once in 8 tokens.
      const double weights = j.at("weights_per_token").get<double>(), output = j.at("output_weights").get<double>();
      EXPECT_GT(output, 0.0);
      EXPECT_LT(output, weights);
      const double ops = j.at("ops_per_token").get<double>();
      EXPECT_NEAR(ops, 2.0 * (weights - output + output / 8.0), 1e-9 * ops);
      double fraction = 0.0, bound = 0.0;
      for (size_t rep = 0; rep < 2; ++rep) {
        EXPECT_GT(peaks[rep].get<double>(), 0.0);
        const double bound_r = 0.5 * (peaks[rep].get<double>() + peaks[rep + 1].get<double>()) * 1e9 / ops;
        fraction += samples[rep].get<double>() / bound_r / 2.0;
        bound += bound_r / 2.0;
      }
      EXPECT_NEAR(j.at("fraction_of_bound").get<double>(), fraction, 1e-9);
      EXPECT_NEAR(j.at("bound_ts").get<double>(), bound, 1e-6 * bound);
    } else {  // decode: each repetition against the bandwidth read right before and after it
      ASSERT_EQ(reads.size(), 3u);
      EXPECT_TRUE(peaks.empty());
      // The same probes' mean passes: never above their best passes.
      const auto& mean_reads = j.at("read_bandwidth_mean_pass_samples_gbps");
      ASSERT_EQ(mean_reads.size(), 3u);
      const double bytes = j.at("weight_bytes_per_token").get<double>();
      double fraction = 0.0, bound = 0.0, mean_pass_fraction = 0.0;
      for (size_t rep = 0; rep < 3; ++rep) {
        EXPECT_GT(mean_reads[rep].get<double>(), 0.0);
        EXPECT_LE(mean_reads[rep].get<double>(), reads[rep].get<double>() * (1 + 1e-12));
      }
      for (size_t rep = 0; rep < 2; ++rep) {
        const double bound_r = 0.5 * (reads[rep].get<double>() + reads[rep + 1].get<double>()) * 1e9 / bytes;
        fraction += samples[rep].get<double>() / bound_r / 2.0;
        bound += bound_r / 2.0;
        const double mean_r = 0.5 * (mean_reads[rep].get<double>() + mean_reads[rep + 1].get<double>());
        mean_pass_fraction += samples[rep].get<double>() * bytes / 1e9 / mean_r / 2.0;
      }
      EXPECT_NEAR(j.at("fraction_of_bound").get<double>(), fraction, 1e-9);
      EXPECT_NEAR(j.at("fraction_of_mean_pass_read").get<double>(), mean_pass_fraction, 1e-9);
      EXPECT_GE(mean_pass_fraction, fraction * (1 - 1e-9));
      EXPECT_NEAR(j.at("bound_ts").get<double>(), bound, 1e-6 * bound);
    }
    EXPECT_EQ(j.at("bound_kind"), i == 0 ? "int8_peak" : "read_bandwidth");
  }
  EXPECT_EQ(lines[2].at("test"), "memory");
  EXPECT_GT(lines[2].at("peak_rss_bytes").get<uint64_t>(), 0u);

  // The same file through -m, as a markdown table.
  const Result table = run("bench -m " + model.string() + " -p 8 -n 0 -r 1 -t 1", dir.path());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("| pp8 |"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("tg"), std::string::npos) << table.out;
  EXPECT_NE(table.err.find("peak RSS"), std::string::npos) << table.err;
}

TEST(BenchCli, RooflineAndListing) {
  TempDir dir("bench-cli-test");
  const Result r = run("bench --roofline -t 1 --json", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_GT(lines[0].at("read_bandwidth_gbps").get<double>(), 0.0);
  EXPECT_GT(lines[0].at("int8_peak_gops").get<double>(), 0.0);
  EXPECT_GT(lines[0].at("fp32_peak_gflops").get<double>(), 0.0);
  const Result list = run("bench --list-synthetic", dir.path());
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (const char* name : {"qwen2-0.5b", "qwen2-1.5b", "llama-1b", "llama-3b", "deepseek-v2-lite"})
    EXPECT_NE(list.out.find(name), std::string::npos) << name;
}

TEST(BenchCli, BadArgumentsAreClearErrors) {
  TempDir dir("bench-cli-test");
  const struct {
    std::string args, message;
  } cases[] = {
      {"bench", "exactly one of -m"},
      {"bench --synthetic qwen9-70b", "unknown synthetic model 'qwen9-70b'"},
      {"bench --synthetic tiny-llama --type q9_9", "unknown quantization type"},
      {"bench -m " + (dir.path() / "missing.gguf").string(), "missing.gguf"},
      {"bench --synthetic tiny-llama -r 0", "-r 0"},
      {"bench --synthetic tiny-llama -p -3", "must not be negative"},
      {"bench -m x.gguf --generate-only", "need --synthetic"},
      {"bench --synthetic tiny-llama -p 0 -n 0", "nothing to run"},
  };
  for (const auto& c : cases) {
    const Result r = run(c.args, dir.path());
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
  }
}

TEST(InfoCli, CpuNamesTheActiveIsa) {
  TempDir dir("bench-cli-test");
  const Result r = run("info --cpu", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("active: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scalar"), std::string::npos) << r.out;
  const Result j = run("info --cpu --json", dir.path());
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  const std::string active = doc.at("active_isa");
  bool listed = false;
  for (const auto& isa : doc.at("usable_isas")) listed |= isa == active;
  EXPECT_TRUE(listed) << j.out;
  // Forcing the scalar level (always possible) is reported as active.
  const Result scalar = run("info --cpu", dir.path(), "EDGELLM_ISA=scalar");
  ASSERT_EQ(scalar.exit_code, 0) << scalar.err;
  EXPECT_NE(scalar.out.find("active: scalar"), std::string::npos) << scalar.out;
  // A level that does not exist is a clear error, not a crash.
  const Result bad = run("info --cpu", dir.path(), "EDGELLM_ISA=nonsense");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("nonsense"), std::string::npos) << bad.err;
  const Result neither = run("info", dir.path());
  EXPECT_NE(neither.exit_code, 0);
  EXPECT_NE(neither.err.find("--cpu"), std::string::npos) << neither.err;
}

}  // namespace
