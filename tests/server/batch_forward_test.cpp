// The paged KV pool (reference counts, prefix publishing and lookup, eviction, rows across block
// boundaries) and the multi-sequence batched forward against the single-sequence Session.
#include "runtime/batch_forward.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "model/model.h"
#include "gguf/gguf_file.h"
#include "model/deepseek2_test_util.h"
#include "model/model_test_util.h"
#include "runtime/session.h"
#include "runtime/thread_pool.h"
#include "server_test_util.h"

namespace edgellm::runtime {
namespace {

PagedKvPool small_pool(int64_t n_blocks, int64_t block_size = 4) {
  return PagedKvPool({{6, 4}, {6, 0}}, n_blocks, block_size, KvType::F32);
}

TEST(PagedKvPool, AllocatesUntilFullThenFails) {
  PagedKvPool pool = small_pool(3);
  EXPECT_EQ(pool.n_available(), 3);
  const int32_t a = pool.allocate(), b = pool.allocate(), c = pool.allocate();
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_EQ(pool.n_available(), 0);
  EXPECT_THROW(pool.allocate(), Error);
  pool.release(b);
  EXPECT_EQ(pool.allocate(), b);
  EXPECT_THROW(pool.release(99), Error);
}

TEST(PagedKvPool, PublishedBlocksAreSharedAndEvictedOldestFirst) {
  PagedKvPool pool = small_pool(2);
  const std::vector<int32_t> t1{1, 2, 3, 4}, t2{5, 6, 7, 8};
  const uint64_t h1 = PagedKvPool::chain_hash(0, t1), h2 = PagedKvPool::chain_hash(h1, t2);
  EXPECT_NE(h1, PagedKvPool::chain_hash(0, t2));
  EXPECT_NE(PagedKvPool::chain_hash(0, t2), h2);  // the same tokens after another prefix differ
  const int32_t a = pool.allocate(), b = pool.allocate();
  pool.publish(a, h1, t1);
  pool.publish(b, h2, t2);
  EXPECT_EQ(pool.lookup(h1, t1), a);  // shared: two references now
  EXPECT_EQ(pool.lookup(h1, t2), -1);  // same hash, other tokens: no match
  pool.release(a);
  pool.release(a);
  pool.release(b);
  EXPECT_EQ(pool.n_available(), 2);  // cached but evictable
  EXPECT_EQ(pool.n_cached(), 2);
  // The first allocation evicts the least recently released block (a).
  EXPECT_EQ(pool.allocate(), a);
  EXPECT_EQ(pool.lookup(h1, t1), -1);
  EXPECT_EQ(pool.lookup(h2, t2), b);
  EXPECT_THROW(pool.publish(a, h1, std::vector<int32_t>{1, 2}), Error);  // not a full block
}

TEST(PagedKvPool, RowsRoundTripAcrossBlocks) {
  PagedKvPool pool = small_pool(4, 2);
  SequenceKv seq;
  seq.blocks = {pool.allocate(), pool.allocate(), pool.allocate()};
  std::swap(seq.blocks[0], seq.blocks[2]);  // block order in the table need not be id order
  for (int64_t p = 0; p < 5; ++p) {
    std::vector<float> k(6), v(4);
    for (int i = 0; i < 6; ++i) k[static_cast<size_t>(i)] = static_cast<float>(p * 10 + i);
    for (int i = 0; i < 4; ++i) v[static_cast<size_t>(i)] = static_cast<float>(-p * 10 - i);
    pool.store(0, seq.blocks[static_cast<size_t>(p / 2)], p % 2, k.data(), v.data());
  }
  // Position p is row p % 2 of table block p / 2 (the pool is F32: rows read in place).
  const auto key = [&](int64_t p, int64_t col) {
    const KvRows r = pool.block_rows(0, seq.blocks[static_cast<size_t>(p / 2)], 3, 0, p / 2 * 2, 2);
    EXPECT_EQ(r.type, KvType::F32);
    EXPECT_EQ(r.pos_begin, p / 2 * 2);
    return static_cast<const float*>(r.k)[static_cast<size_t>(p % 2) * r.k_stride + static_cast<size_t>(col)];
  };
  for (int64_t p = 0; p < 5; ++p) {
    EXPECT_EQ(key(p, 0), static_cast<float>(p * 10 + 3));
    EXPECT_EQ(key(p, 1), static_cast<float>(p * 10 + 4));
  }
  const KvRows last = pool.block_rows(0, seq.blocks[2], 3, 0, 4, 1);
  EXPECT_EQ(static_cast<const float*>(last.v)[0], -40.0f);
  EXPECT_THROW(pool.block_rows(0, seq.blocks[0], 0, 0, 0, 3), Error);   // more rows than a block
  EXPECT_THROW(pool.block_rows(0, seq.blocks[0], 7, 0, 0, 2), Error);   // key column past the row
  EXPECT_THROW(pool.block_rows(0, seq.blocks[0], 0, -1, 0, 2), Error);  // negative value column
  EXPECT_THROW(pool.block_rows(0, 99, 0, 0, 0, 2), Error);              // no such block
  EXPECT_THROW(pool.block_rows(5, seq.blocks[0], 0, 0, 0, 2), Error);   // no such layer
  pool.release_sequence(seq);
  EXPECT_EQ(pool.n_available(), 4);
}

// A layer without value rows (MLA: v_width 0) reads its values from the key rows, F16 or F32.
TEST(PagedKvPool, LayerWithoutValueRowsReadsValuesFromKeys) {
  for (KvType type : {KvType::F32, KvType::F16}) {
    PagedKvPool pool({{6, 0}}, 2, 2, type);
    const int32_t block = pool.allocate();
    for (int64_t p = 0; p < 2; ++p) {
      std::vector<float> k(6);
      for (int i = 0; i < 6; ++i) k[static_cast<size_t>(i)] = static_cast<float>(p * 10 + i);
      pool.store(0, block, p, k.data(), nullptr);
    }
    const KvRows r = pool.block_rows(0, block, 0, 2, 0, 2);
    EXPECT_EQ(r.v_stride, r.k_stride);
    const auto value = [&](int64_t p, int64_t col) {
      const size_t i = static_cast<size_t>(p) * r.v_stride + static_cast<size_t>(col);
      return type == KvType::F16 ? fp16_to_fp32(static_cast<const uint16_t*>(r.v)[i]) : static_cast<const float*>(r.v)[i];
    };
    EXPECT_EQ(value(0, 0), 2.0f);  // value column 0 is key column 2
    EXPECT_EQ(value(1, 3), 15.0f);
    EXPECT_THROW(pool.block_rows(0, block, 0, 7, 0, 2), Error);  // past the key row
  }
}

// Logits of every sequence in a mixed batch (prompt chunks + decode tokens of other sequences)
// equal those of a Session running that sequence alone.
void expect_batches_match_sessions(const model::Model& model, bool batch_invariant = true) {
  ThreadPool pool(2);
  PagedKvPool kv(BatchForward::kv_shapes(model), 32, 4, KvType::F32);
  BatchForward forward(model, kv, pool, 64, batch_invariant);
  const auto n_vocab = static_cast<int32_t>(model.config().n_vocab);
  std::vector<std::vector<int32_t>> prompts = {
      {1, 2, 3, 4, 5, 6, 7}, {10, 20, 30}, {100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110}};
  std::vector<int32_t> next = {42, 43, 44};
  for (auto& p : prompts)
    for (int32_t& t : p) t %= n_vocab;
  for (int32_t& t : next) t %= n_vocab;

  // Reference: each prompt alone, then 3 decode tokens.
  SessionParams sp;
  sp.n_ctx = 64;
  sp.kv_type = KvType::F32;
  std::vector<std::vector<std::vector<float>>> expected(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    Session s(model, sp, pool);
    auto l = s.eval(prompts[i]);
    expected[i].emplace_back(l.begin(), l.end());
    for (int32_t t : next) {
      l = s.eval(std::span<const int32_t>(&t, 1));
      expected[i].emplace_back(l.begin(), l.end());
    }
  }

  // Batched: sequence 2's prompt arrives in two chunks while 0 and 1 decode.
  std::vector<SequenceKv> seqs(3);
  const auto grow = [&](SequenceKv& s, int64_t n) {
    while (static_cast<int64_t>(s.blocks.size()) * kv.block_size() < s.n_past + n) s.blocks.push_back(kv.allocate());
  };
  const auto check = [&](std::span<const float> logits, size_t row, size_t seq, size_t step) {
    const std::vector<float>& want = expected[seq][step];
    for (int32_t v = 0; v < n_vocab; ++v)
      ASSERT_NEAR(logits[row * static_cast<size_t>(n_vocab) + static_cast<size_t>(v)], want[static_cast<size_t>(v)], 1e-4f)
          << "sequence " << seq << " step " << step << " token " << v;
  };
  // Step 1: prompts 0 and 1 whole, the first 5 tokens of prompt 2 (no logits).
  grow(seqs[0], 7), grow(seqs[1], 3), grow(seqs[2], 5);
  std::vector<int32_t> tokens = prompts[0];
  tokens.insert(tokens.end(), prompts[1].begin(), prompts[1].end());
  tokens.insert(tokens.end(), prompts[2].begin(), prompts[2].begin() + 5);
  std::vector<BatchSegment> segs = {{&seqs[0], 7, true}, {&seqs[1], 3, true}, {&seqs[2], 5, false}};
  auto logits = forward.run(tokens, segs);
  ASSERT_EQ(logits.size(), 2 * static_cast<size_t>(n_vocab));
  check(logits, 0, 0, 0);
  check(logits, 1, 1, 0);
  // Steps 2..4: decode tokens for 0 and 1; the rest of prompt 2 in step 2, then its decodes.
  for (size_t step = 1; step <= 3; ++step) {
    tokens = {next[step - 1], next[step - 1]};
    for (auto& s : seqs) grow(s, step == 1 && &s == &seqs[2] ? 6 : 1);
    segs = {{&seqs[0], 1, true}, {&seqs[1], 1, true}};
    if (step == 1) {
      tokens.insert(tokens.end(), prompts[2].begin() + 5, prompts[2].end());
      segs.push_back({&seqs[2], 6, true});
    } else {
      tokens.push_back(next[step - 2]);
      segs.push_back({&seqs[2], 1, true});
    }
    logits = forward.run(tokens, segs);
    check(logits, 0, 0, step);
    check(logits, 1, 1, step);
    check(logits, 2, 2, step - 1);
  }
  EXPECT_EQ(seqs[2].n_past, 13);
}

TEST(BatchForward, MatchesSessionPerSequence) {
  const auto model = model::Model::load(test::tiny_server_model_path());
  expect_batches_match_sessions(*model, true);
  expect_batches_match_sessions(*model, false);  // no padding rows
}

// DeepSeek-V2: MLA attends in latent space per sequence over the paged blocks (values read from
// the key rows), and the MoE groups the step's tokens of all sequences by expert. Sessions use
// the decompressed order for these prompts and the absorbed one for decode: both agree.
TEST(BatchForward, DeepseekMatchesSessionPerSequence) {
  for (bool low_rank_q : {false, true}) {
    test::TinyDeepseek2Options o;
    if (low_rank_q) o.q_lora_rank = 24;
    const std::vector<uint8_t> bytes = test::make_tiny_deepseek2_gguf(o);
    const auto model = model::Model::from_file(gguf::GgufFile::from_buffer(bytes));
    expect_batches_match_sessions(*model);
  }
}

// A sequence's logits are bit-identical whether it runs alone or with 1..6 other sequences in
// the step (prefill and decode), also with quantized weights: this is what makes greedy output
// independent of the load. These formats' kernels are batch-invariant on every level, so the
// steps run unpadded (1, 2, 3, ... token rows: matvec, tail tiles and full tiles all mixed).
void expect_no_neighbour_effect(const model::Model& model, std::string_view name) {
  ThreadPool pool(2);
  const std::vector<int32_t> prompt = {5, 6, 7, 8, 9, 10};
  const auto n_vocab = static_cast<size_t>(model.config().n_vocab);
  std::vector<float> alone_prefill, alone_decode;
  for (int others = 0; others <= 6; ++others) {
    PagedKvPool kv(BatchForward::kv_shapes(model), 64, 4, KvType::F16);
    BatchForward forward(model, kv, pool, 64);
    ASSERT_EQ(forward.row_multiple(), 1) << name << ": kernels not batch-invariant, steps padded";
    std::vector<SequenceKv> seqs(static_cast<size_t>(others + 1));
    std::vector<int32_t> tokens = prompt;
    std::vector<BatchSegment> segs = {{&seqs[0], 6, true}};
    for (int o = 1; o <= others; ++o) {
      for (int j = 0; j < o + 1; ++j) tokens.push_back((20 + o * 3 + j) % static_cast<int32_t>(n_vocab));
      segs.push_back({&seqs[static_cast<size_t>(o)], o + 1, true});
    }
    for (size_t i = 0; i < seqs.size(); ++i)
      while (static_cast<int64_t>(seqs[i].blocks.size()) * 4 < 8) seqs[i].blocks.push_back(kv.allocate());
    auto logits = forward.run(tokens, segs);
    const std::vector<float> prefill(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(n_vocab));
    // One decode token for everyone.
    tokens.assign(seqs.size(), 7);
    for (auto& seg : segs) seg.n_tokens = 1;
    logits = forward.run(tokens, segs);
    const std::vector<float> decode(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(n_vocab));
    if (others == 0) {
      alone_prefill = prefill;
      alone_decode = decode;
      continue;
    }
    EXPECT_EQ(std::memcmp(prefill.data(), alone_prefill.data(), n_vocab * 4), 0)
        << name << ": prefill logits change with " << others << " neighbours";
    EXPECT_EQ(std::memcmp(decode.data(), alone_decode.data(), n_vocab * 4), 0)
        << name << ": decode logits change with " << others << " neighbours";
  }
}

TEST(BatchForward, LogitsDoNotDependOnBatchNeighbours) {
  for (TensorType type : {TensorType::F32, TensorType::Q4_0, TensorType::Q8_0})
    expect_no_neighbour_effect(*model::Model::load(test::tiny_server_model_path(type)), type_name(type));
}

// The same for DeepSeek-V2, whose MoE groups the step's tokens by expert across sequences.
TEST(BatchForward, DeepseekLogitsDoNotDependOnBatchNeighbours) {
  const std::vector<uint8_t> bytes = test::make_tiny_deepseek2_gguf({});
  expect_no_neighbour_effect(*model::Model::from_file(gguf::GgufFile::from_buffer(bytes)), "deepseek2");
}

TEST(BatchForward, RejectsBadSegmentsBeforeChangingState) {
  const auto model = model::Model::load(test::tiny_server_model_path());
  ThreadPool pool(1);
  PagedKvPool kv(BatchForward::kv_shapes(*model), 4, 4, KvType::F16);
  BatchForward forward(*model, kv, pool, 64);
  SequenceKv seq;
  seq.blocks = {kv.allocate()};
  const std::vector<int32_t> five = {1, 2, 3, 4, 5}, bad = {1, 9999};
  std::vector<BatchSegment> segs = {{&seq, 5, true}};
  EXPECT_THROW(forward.run(five, segs), Error);  // one block holds 4 positions only
  segs = {{&seq, 2, true}};
  EXPECT_THROW(forward.run(bad, segs), Error);  // outside the vocabulary
  EXPECT_THROW(forward.run(std::span<const int32_t>(five.data(), 3), segs), Error);  // count mismatch
  EXPECT_EQ(seq.n_past, 0);
}

}  // namespace
}  // namespace edgellm::runtime
