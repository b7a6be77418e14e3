// Repacking at load (model/panel_store.h): a model whose Q4_0 / Q5_0 / Q8_0 projections were
// repacked into panels gives bit-identical logits to the same file read in place, for prefill,
// batched continuation and decode, on every synthetic test architecture (Q4_K and Q6_K panels:
// within rounding); the repacked copy replaces the file pages instead of adding to them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "bench/synthetic_model.h"
#include "core/huge_page_mapping.h"
#include "gguf/gguf_file.h"
#include "gguf/resident_pages.h"
#include "kernels/simd/kernels.h"
#include "model/model.h"
#include "model/model_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"

namespace edgellm::test {
namespace {

std::vector<float> logits(const model::Model& m, runtime::ThreadPool& pool) {
  runtime::Session s(m, runtime::SessionParams{}, pool);
  std::vector<int32_t> toks;
  for (int i = 0; i < 12; ++i) toks.push_back((i * 37 + 5) % 500);
  std::vector<float> out;
  size_t at = 0;
  for (const size_t n : {size_t{7}, size_t{3}, size_t{1}, size_t{1}}) {  // prefill, batch, decode
    const auto l = s.eval(std::span<const int32_t>(toks.data() + at, n), static_cast<int64_t>(n));
    out.insert(out.end(), l.begin(), l.end());
    at += n;
  }
  return out;
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * 4096;
}

class PanelRepack : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(PanelRepack, SameLogitsAsReadingInPlace) {
  const auto& [shape, type] = GetParam();
  TempDir dir("edgellm-repack");
  const auto path = dir.path() / "model.gguf";
  // Every matrix in the one format (llama-quantize --pure): the mixtures keep a Q6_K LM head,
  // whose panels round differently (PanelRepackK below).
  const quantize::QuantScheme scheme = quantize::parse_scheme(type);
  ASSERT_FALSE(scheme.mixture);
  bench::write_synthetic_model(bench::synthetic_shape(shape), scheme, path);
  const auto in_place = model::Model::load(path.string(), {.repack_weights = false});
  const auto repacked = model::Model::load(path.string());
  EXPECT_EQ(in_place->repacked_bytes(), 0u);
  if (kernels::active().has_panel_kernels(scheme.base_type)) {
    // Every attention and FFN projection qualifies (256 / 512 wide); the LM head too.
    EXPECT_GT(repacked->repacked_bytes(), repacked->weight_bytes() / 2) << shape << " " << type;
  }
  for (int threads : {1, 2}) {
    runtime::ThreadPool pool(threads);
    const std::vector<float> a = logits(*in_place, pool), b = logits(*repacked, pool);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << shape << " " << type << " threads " << threads;
  }
}

INSTANTIATE_TEST_SUITE_P(TinyShapes, PanelRepack,
                         ::testing::Combine(::testing::Values("tiny-llama", "tiny-qwen2", "tiny-deepseek2"),
                                            ::testing::Values("q4_0", "q5_0", "q8_0")),
                         [](const auto& param_info) {
                           std::string n = std::get<0>(param_info.param) + "_" + std::get<1>(param_info.param);
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// Q4_K panels (a Q4_K_M file's Q4_K matrices; Q6_K ones stay in rows, moved onto huge pages)
// sum their f32 terms in another order than the row kernels
// (exact int32 per super-block, then f32 multiply-adds per super-block instead of per lane), so
// the logits agree to within rounding, not bit for bit. A last-bit difference can move an activation's
// int8 quantization by one step, which the layers after it amplify: the scalar level's row
// kernels differ from the AVX-512 ones as much (tiny-llama q6_k: 0.054 of logits up to 6.3 at
// the last decode step, 1e-6 elsewhere, for both). Bound: 3% of the largest logit.
class PanelRepackK : public ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(PanelRepackK, LogitsWithinRoundingOfReadingInPlace) {
  const auto& [shape, type] = GetParam();
  TempDir dir("edgellm-repack-k");
  const auto path = dir.path() / "model.gguf";
  bench::write_synthetic_model(bench::synthetic_shape(shape), bench::synthetic_scheme(type), path);
  const auto in_place = model::Model::load(path.string(), {.repack_weights = false});
  const auto repacked = model::Model::load(path.string());
  if (kernels::active().has_panel_kernels(TensorType::Q6_K)) {
    EXPECT_GT(repacked->repacked_bytes(), 0u) << shape << " " << type;
  }
  // A K-quant LM head stays in rows (decode-only, and K-quant panels stream slower from DRAM),
  // but moves off the file's 4 KiB pages onto the store's huge pages like the panels.
  const TensorType head = repacked->output().type;
  const bool k_head = head == TensorType::Q4_K || head == TensorType::Q6_K;
  EXPECT_EQ(repacked->output().panels, !k_head && kernels::active().has_panel_kernels(head))
      << shape << " " << type << " " << type_name(head);
  const auto file = repacked->file().bytes();
  const bool head_in_file = repacked->output().data >= file.data() && repacked->output().data < file.data() + file.size();
  if (k_head) {
    EXPECT_FALSE(head_in_file) << shape << " " << type;
    EXPECT_EQ(0, std::memcmp(repacked->output().data, in_place->output().data,
                             repacked->output().row_stride() * static_cast<size_t>(repacked->output().rows)));
  }
  for (int threads : {1, 2}) {
    runtime::ThreadPool pool(threads);
    const std::vector<float> a = logits(*in_place, pool), b = logits(*repacked, pool);
    ASSERT_EQ(a.size(), b.size());
    double max_a = 0, max_err = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      max_a = std::max(max_a, std::abs(static_cast<double>(a[i])));
      max_err = std::max(max_err, std::abs(static_cast<double>(a[i]) - b[i]));
    }
    EXPECT_LE(max_err, 0.03 * max_a) << shape << " " << type << " threads " << threads;
    // Q6_K streams faster in rows (PanelStore::streams_faster_in_rows): an all-Q6_K file only
    // moves onto huge pages, so the same row kernels give the same logits bit for bit.
    if (type == "q6_k") {
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << shape << " threads " << threads;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(TinyShapes, PanelRepackK,
                         ::testing::Combine(::testing::Values("tiny-llama", "tiny-qwen2", "tiny-deepseek2"),
                                            ::testing::Values("q6_k", "q4_k_m", "q4_0")),
                         [](const auto& param_info) {
                           std::string n = std::get<0>(param_info.param) + "_" + std::get<1>(param_info.param);
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// Resident memory: repacking a large model must not hold both the copy and the file pages.
TEST(PanelRepackMemory, CopyReplacesTheFilePages) {
  if (!kernels::active().has_panel_kernels(TensorType::Q8_0)) GTEST_SKIP() << "no panel kernels on this CPU";
  TempDir dir("edgellm-repack-rss");
  const auto path = dir.path() / "model.gguf";
  bench::SyntheticShape shape = bench::synthetic_shape("tiny-llama");
  bench::write_synthetic_model(shape, bench::synthetic_scheme("q8_0"), path);
  const size_t before = rss_bytes();
  const auto m = model::Model::load(path.string());
  m->touch_weights();
  const size_t grown = rss_bytes() - std::min(rss_bytes(), before);
  const size_t file = m->file().bytes().size();
  EXPECT_GT(m->repacked_bytes(), file / 2);
  // Without dropping the pages the process would hold file + copy. The copy's arena is marked
  // MADV_HUGEPAGE, so with transparent huge pages on the kernel may back it with a whole 2 MiB
  // page however little of it is used (this 1.4 MB model then holds 2 MiB for its copy).
  std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
  const std::string thp_mode((std::istreambuf_iterator<char>(thp)), std::istreambuf_iterator<char>());
  constexpr size_t kHuge = core::HugePageMapping::kHugePage;
  const size_t copy_resident = thp_mode.find("[never]") == std::string::npos
                                   ? (m->repacked_bytes() + kHuge - 1) / kHuge * kHuge
                                   : m->repacked_bytes();
  EXPECT_LT(grown, std::max(file, copy_resident) + file / 10 + (1u << 20))
      << "file " << file << " repacked " << m->repacked_bytes() << " THP " << thp_mode;
  // Touching the other tensors (their pages neighbour the repacked ones) and running the model
  // maps none of the replaced file pages back in (the kernel's fault-around maps whole
  // page-cache folios, which a mere MADV_DONTNEED of the range does not prevent).
  runtime::ThreadPool pool(1);
  runtime::SessionParams sp;
  sp.n_ctx = 16;
  runtime::Session session(*m, sp, pool);
  const std::vector<int32_t> prompt = {1, 2, 3};
  session.eval(prompt);
  ASSERT_FALSE(m->repacked_ranges().empty());
  size_t present = 0;
  for (const auto& [begin, end] : m->repacked_ranges()) present += test::present_pages(begin, end);
  EXPECT_EQ(present, 0u) << "replaced file pages mapped again";
}

// Every matrix a decode step streams leaves the file's 4 KiB page-cache pages for the huge-page
// copy, repacked or not: the F32 MoE router read in place streamed 0.5 MB a layer at half the
// speed of the relocated matrices (DeepSeek-V2-Lite Q4_0, 1 thread: 27-32 -> 25 us a layer).
// Not the embedding table (one row a token is gathered) nor attn_kv_b (split at load).
TEST(PanelRepackMemory, EveryStreamedMatrixLeavesTheFilePages) {
  TempDir dir("edgellm-repack-all");
  const auto path = dir.path() / "model.gguf";
  bench::write_synthetic_model(bench::synthetic_shape("tiny-deepseek2"), bench::synthetic_scheme("q4_0"), path);
  const auto m = model::Model::load(path.string());
  ASSERT_FALSE(m->repacked_ranges().empty());
  const auto moved = [&](const uint8_t* begin, const uint8_t* end) {
    return std::any_of(m->repacked_ranges().begin(), m->repacked_ranges().end(),
                       [&](const auto& r) { return r.first <= begin && end <= r.second; });
  };
  int matrices = 0;
  bool saw_router = false;
  for (const gguf::TensorInfo& t : m->file().tensors()) {
    if (t.dims.size() < 2 || t.name == "token_embd.weight" || t.name.find("attn_kv_b") != std::string::npos)
      continue;
    ++matrices;
    saw_router = saw_router || t.name.find("ffn_gate_inp") != std::string::npos;
    EXPECT_TRUE(moved(t.data, t.data + t.n_bytes)) << t.name << " is still read from the file's pages";
  }
  EXPECT_TRUE(saw_router);
  EXPECT_GT(matrices, 10);
}

// A model parsed from the caller's buffer is never repacked: its pages cannot be given back, so
// a copy would double the memory an app holds.
TEST(PanelRepackMemory, BufferModelsStayInPlace) {
  TempDir dir("edgellm-repack-buffer");
  const auto path = dir.path() / "model.gguf";
  bench::write_synthetic_model(bench::synthetic_shape("tiny-qwen2"), bench::synthetic_scheme("q8_0"), path);
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto m = model::Model::from_file(gguf::GgufFile::from_buffer(bytes));
  EXPECT_EQ(m->repacked_bytes(), 0u);
  const auto mapped = model::Model::load(path.string());
  if (kernels::active().has_panel_kernels(TensorType::Q8_0)) {
    EXPECT_GT(mapped->repacked_bytes(), 0u);
  }
  runtime::ThreadPool pool(1);
  const std::vector<float> a = logits(*m, pool), b = logits(*mapped, pool);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

}  // namespace
}  // namespace edgellm::test
