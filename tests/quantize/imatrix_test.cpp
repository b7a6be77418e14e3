// Importance matrices: llama.cpp's legacy .dat layout byte by byte, loading files with and
// without the trailer, malformed files, the collector's sums and filters, the statistics the
// forward pass reports (against an independent computation of the first layer's input), and
// the `edgellm imatrix` command.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/quant/quant.h"
#include "model/model.h"
#include "quantize/imatrix.h"
#include "quantize/quantize_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace edgellm::test {
namespace {

namespace fs = std::filesystem;
using quantize::ImatrixCollector;
using quantize::ImatrixData;

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& i32(int32_t v) { return raw(&v, 4); }
  Bytes& f32(float v) { return raw(&v, 4); }
  Bytes& str(const std::string& s) { return raw(s.data(), s.size()); }
  Bytes& raw(const void* p, size_t n) {
    b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    return *this;
  }
};

TEST(Imatrix, SavesLlamaCppLegacyLayout) {
  TempDir dir("edgellm-imatrix-layout");
  ImatrixData d;
  d.importance["blk.1.ffn_down.weight"] = {1.0f, 2.0f, 3.0f};
  d.importance["blk.0.attn_q.weight"] = {0.5f, 0.25f};
  d.n_calls["blk.1.ffn_down.weight"] = 4;
  d.n_calls["blk.0.attn_q.weight"] = 2;
  d.n_chunks = 4;
  d.dataset = "calib.txt";
  const fs::path path = dir.path() / "i.dat";
  quantize::save_imatrix(d, path);
  // Entries sorted by name; values stored multiplied by ncall; then chunk count and dataset.
  const std::vector<uint8_t> expected = Bytes{}
                                            .i32(2)
                                            .i32(19).str("blk.0.attn_q.weight").i32(2).i32(2).f32(1.0f).f32(0.5f)
                                            .i32(21).str("blk.1.ffn_down.weight").i32(4).i32(3).f32(4).f32(8).f32(12)
                                            .i32(4).i32(9).str("calib.txt")
                                            .b;
  EXPECT_EQ(read_bytes(path), expected);
  const ImatrixData back = quantize::load_imatrix(path);
  EXPECT_EQ(back.importance, d.importance);
  EXPECT_EQ(back.n_calls, d.n_calls);
  EXPECT_EQ(back.n_chunks, 4);
  EXPECT_EQ(back.dataset, "calib.txt");
}

TEST(Imatrix, LoadsFilesWithoutTrailerAndRejectsBadOnes) {
  TempDir dir("edgellm-imatrix-load");
  const fs::path path = dir.path() / "i.dat";
  const auto write = [&](const std::vector<uint8_t>& b) { write_bytes(path, b); };
  write(Bytes{}.i32(1).i32(3).str("abc").i32(3).i32(2).f32(3.0f).f32(6.0f).b);  // old files end here
  const ImatrixData d = quantize::load_imatrix(path);
  ASSERT_NE(d.find("abc"), nullptr);
  EXPECT_EQ(*d.find("abc"), (std::vector<float>{1.0f, 2.0f}));  // divided by ncall
  EXPECT_EQ(d.n_chunks, 0);

  const auto expect_error = [&](const std::vector<uint8_t>& b, const std::string& message) {
    write(b);
    try {
      quantize::load_imatrix(path);
      FAIL() << "accepted a file that should fail with: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_error({}, "truncated");
  expect_error(Bytes{}.i32(0).b, "has 0 entries");
  expect_error(Bytes{}.i32(1).i32(3).str("abc").i32(1).i32(2).f32(1.0f).b, "truncated");
  expect_error(Bytes{}.i32(1).i32(3).str("abc").i32(1).i32(0).b, "has 0 values");
  expect_error(Bytes{}.i32(1).i32(3).str("abc").i32(-1).i32(1).f32(1.0f).b, "negative call count");
  expect_error(Bytes{}.i32(1).i32(3).str("abc").i32(1).i32(1).f32(NAN).b, "finite and non-negative");
  expect_error(Bytes{}.i32(1).i32(3).str("abc").i32(1).i32(1).f32(-2.0f).b, "finite and non-negative");
  expect_error(Bytes{}.i32(1).i32(3).str("abc").i32(1).i32(1).f32(1.0f).i32(1).i32(1).str("x").str("junk").b,
               "unexpected bytes");
  expect_error(Bytes{}.str("GGUF").i32(3).b, "GGUF-format imatrix");
  EXPECT_THROW(quantize::load_imatrix((dir.path() / "missing.dat").string()), Error);
}

TEST(Imatrix, CollectorSumsSquaresPerColumnAndFilters) {
  ImatrixCollector c;
  std::vector<float> x(20 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  c.observe("blk.0.attn_q.weight", x.data(), 20, 3);
  c.observe("blk.0.attn_q.weight", x.data(), 16, 3);
  c.observe("blk.0.attn_q.weight", x.data(), 15, 3);  // under 16 tokens: ignored, as llama.cpp
  c.observe("output.weight", x.data(), 20, 3);        // not a block tensor: ignored by default
  ASSERT_EQ(c.entries().size(), 1u);
  const auto& e = c.entries().at("blk.0.attn_q.weight");
  EXPECT_EQ(e.n_tokens, 36);
  for (int j = 0; j < 3; ++j) {
    double s = 0;
    for (int t = 0; t < 20; ++t) s += static_cast<double>(x[t * 3 + j]) * x[t * 3 + j];
    for (int t = 0; t < 16; ++t) s += static_cast<double>(x[t * 3 + j]) * x[t * 3 + j];
    EXPECT_DOUBLE_EQ(e.sum_sq[static_cast<size_t>(j)], s);
  }
  const ImatrixData d = c.result(16, 2, "t.txt");
  EXPECT_EQ(d.n_calls.at("blk.0.attn_q.weight"), 3);  // ceil(36 / 16)
  EXPECT_FLOAT_EQ(d.importance.at("blk.0.attn_q.weight")[0], static_cast<float>(e.sum_sq[0] / 36));
  EXPECT_THROW(c.observe("blk.0.attn_q.weight", x.data(), 16, 4), Error);  // column count changed

  ImatrixCollector with_output({.include_output = true, .min_tokens = 1});
  with_output.observe("output.weight", x.data(), 2, 3);
  EXPECT_EQ(with_output.entries().count("output.weight"), 1u);
  EXPECT_THROW(ImatrixCollector().result(16, 1, ""), Error);  // nothing collected
}

// The statistics the forward pass reports: blk.0's attention input is rmsnorm(embedding) *
// attn_norm, computed here independently in double from the file's tensors.
TEST(Imatrix, ForwardPassReportsEveryMatmulInput) {
  TinyGgufOptions o;
  o.n_embd = 32, o.n_ff = 48, o.n_layer = 2, o.n_head = 4, o.n_head_kv = 2, o.n_vocab = 50;
  const std::vector<uint8_t> bytes = make_tiny_gguf(o);
  const auto model = model::Model::from_file(gguf::GgufFile::from_buffer(bytes));
  runtime::ThreadPool pool(2);
  runtime::SessionParams p;
  p.n_ctx = 64;
  runtime::Session session(*model, p, pool);
  ImatrixCollector collector({.include_output = true, .min_tokens = 16});
  session.set_matmul_observer(&collector);
  std::vector<int32_t> tokens;
  for (int i = 0; i < 24; ++i) tokens.push_back((i * 7 + 3) % 50);
  session.eval(tokens, 20);
  session.reset();
  session.eval(tokens, 20);

  // Two evals of 24 tokens; the LM head saw 20 rows each time.
  const auto& entries = collector.entries();
  EXPECT_EQ(entries.size(), 2u * 7 + 1) << "q, k, v, output, gate, up, down per layer + output";
  EXPECT_EQ(entries.at("blk.1.ffn_down.weight").sum_sq.size(), 48u);
  EXPECT_EQ(entries.at("blk.0.attn_q.weight").n_tokens, 48);
  EXPECT_EQ(entries.at("output.weight").n_tokens, 40);
  EXPECT_EQ(entries.at("blk.0.attn_q.weight").sum_sq, entries.at("blk.0.attn_v.weight").sum_sq);
  EXPECT_EQ(entries.at("blk.0.ffn_gate.weight").sum_sq, entries.at("blk.0.ffn_up.weight").sum_sq);

  const gguf::GgufFile& f = model->file();
  const gguf::TensorInfo& embd = f.tensor("token_embd.weight");
  const auto* norm = reinterpret_cast<const float*>(f.tensor("blk.0.attn_norm.weight").data);
  std::vector<double> expected(32, 0.0);
  for (int32_t tok : tokens) {
    const auto* x = reinterpret_cast<const float*>(embd.data) + tok * 32;
    double ms = 0;
    for (int j = 0; j < 32; ++j) ms += static_cast<double>(x[j]) * x[j];
    const double scale = 1.0 / std::sqrt(ms / 32 + 1e-5);
    for (int j = 0; j < 32; ++j) {
      const double y = x[j] * scale * norm[j];
      expected[static_cast<size_t>(j)] += 2 * y * y;  // the batch was evaluated twice
    }
  }
  const auto& got = entries.at("blk.0.attn_q.weight").sum_sq;
  for (size_t j = 0; j < 32; ++j) EXPECT_NEAR(got[j], expected[j], 1e-5 * expected[j]) << j;
}

TEST(Imatrix, CommandWritesALoadableFile) {
  TempDir dir("edgellm-imatrix-cli");
  TinyGgufOptions o;
  o.n_embd = 64, o.n_ff = 96, o.n_layer = 2, o.n_vocab = 300, o.n_ctx = 256;
  o.with_tokenizer = true;
  const fs::path model = dir.path() / "m.gguf", text = dir.path() / "calib.txt", out = dir.path() / "i.dat";
  write_bytes(model, make_tiny_gguf(o));
  std::string content;
  for (int i = 0; i < 20; ++i) content += "the quick brown fox jumps over the lazy dog. ";  // 900 bytes
  std::ofstream(text) << content;
  const std::string log = cli_ok("imatrix -m " + model.string() + " -f " + text.string() + " -o " + out.string() +
                                 " -c 128");
  EXPECT_NE(log.find("7 chunks"), std::string::npos) << log;  // 900 byte tokens / 128
  const ImatrixData d = quantize::load_imatrix(out);
  EXPECT_EQ(d.importance.size(), 14u);
  EXPECT_EQ(d.n_chunks, 7);
  EXPECT_EQ(d.dataset, text.string());
  EXPECT_EQ(d.n_calls.at("blk.0.attn_q.weight"), 7);  // 7 x 128 tokens / 128 per chunk
  // And it drives the quantizer.
  const std::string q = cli_ok("quantize " + model.string() + " " + (dir.path() / "q.gguf").string() +
                               " Q4_0 --imatrix " + out.string());
  EXPECT_NE(q.find("(imatrix)"), std::string::npos) << q;
  const CommandResult bad = run_command(kCli + " imatrix -m " + model.string() + " -f " + text.string() +
                                        " -o " + out.string() + " -c 4096");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("at least one window"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace edgellm::test
