#include "runtime/batch_forward.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/simd/kernels.h"
#include "model/model.h"
#include "runtime/batch_attention.h"
#include "runtime/thread_pool.h"

namespace edgellm::runtime {

namespace {

// Scratch slots of the step; blocks use their own small slot numbers.
enum StepSlot : size_t { kRopeCos = 40, kRopeSin, kFinalNorm };

// When a weight format's kernels on this CPU are not batch-invariant (their 1-token matvec and
// tail tiles round differently from full 4-token tiles), every matmul of a step runs over a
// multiple of this many token rows (padding rows are copies of the first row and belong to no
// sequence): a token then always goes through a full tile, so a sequence's logits do not depend
// on how many other sequences share its step (greedy output alone = batched). Kernels that
// report batch_invariant() need no padding.
constexpr int64_t kTokenRowMultiple = 4;

// Whether every matrix of the model multiplies bit-identically whatever the number of tokens in
// the call. Types without SIMD kernels use the generic path, one dot product per output.
bool kernels_batch_invariant(const model::Model& model) {
  const kernels::KernelSet& ks = kernels::active();
  return std::all_of(model.file().tensors().begin(), model.file().tensors().end(), [&](const gguf::TensorInfo& t) {
    return t.dims.size() < 2 || !kernels::supports(t.type) || ks.batch_invariant(t.type);
  });
}

// Stores each token's K/V in its sequence's blocks, then attends per (sequence, KV head).
class SegmentAttention final : public BatchAttention {
 public:
  static constexpr int64_t kTileTokens = 8;  // query tokens of a segment per work item

  // n_rows: rows of the step including padding (rows past the segments' tokens).
  SegmentAttention(PagedKvPool& kv, ThreadPool& pool, std::span<const BatchSegment> segments, int64_t n_rows)
      : kv_(kv), pool_(pool), segments_(segments), n_rows_(n_rows) {
    for (const BatchSegment& s : segments) {
      views_.push_back({n_real_, s.n_tokens, s.seq->n_past});
      n_real_ += s.n_tokens;
    }
  }

  std::span<const Segment> segments() const override { return views_; }

  void store(int layer, const float* k, const float* v) override {
    const KvLayerShape& ks = kv_.shape(layer);
    const int64_t bs = kv_.block_size();
    for (size_t i = 0; i < segments_.size(); ++i) {
      const BatchSegment& seg = segments_[i];
      for (int64_t j = 0; j < seg.n_tokens; ++j) {
        const int64_t pos = seg.seq->n_past + j;
        const int64_t t = views_[i].first_row + j;
        kv_.store(layer, seg.seq->blocks[static_cast<size_t>(pos / bs)], pos % bs, k + t * ks.k_width,
                  ks.v_width > 0 ? v + t * ks.v_width : nullptr);
      }
    }
  }

  void attend_stored(int layer, const AttentionShape& s, const float* q, float* out,
                     std::span<const bool> selected) override {
    if (!selected.empty() && selected.size() != segments_.size())
      fail("batch attention: {} segment flags for {} segments", selected.size(), segments_.size());
    const auto is_selected = [&](size_t i) { return selected.empty() || selected[i]; };
    const int64_t bs = kv_.block_size();
    const int64_t group = s.n_head / s.n_head_kv;
    const int64_t q_stride = s.n_head * s.head_dim_k;
    const int64_t o_stride = s.n_head * s.head_dim_v;
    // Padding rows and unselected segments get zeros.
    std::fill(out + n_real_ * o_stride, out + n_rows_ * o_stride, 0.0f);
    for (size_t i = 0; i < segments_.size(); ++i)
      if (!is_selected(i))
        std::fill(out + views_[i].first_row * o_stride, out + (views_[i].first_row + views_[i].n_tokens) * o_stride,
                  0.0f);
    // Work items: (segment, token tile, KV head). A tile's rows are the query heads of one GQA
    // group for up to kTileTokens tokens; they share every block of K and V rows, read in
    // place from the pool by the online-softmax AttentionTile.
    struct Item {
      size_t seg;
      int64_t t0, nt, g;
    };
    std::vector<Item> items;
    for (size_t i = 0; i < segments_.size(); ++i) {
      if (!is_selected(i)) continue;
      for (int64_t t0 = 0; t0 < segments_[i].n_tokens; t0 += kTileTokens)
        for (int64_t g = 0; g < s.n_head_kv; ++g)
          items.push_back({i, t0, std::min(kTileTokens, segments_[i].n_tokens - t0), g});
    }
    const int64_t max_rows = kTileTokens * group;
    pool_.parallel_for(static_cast<int64_t>(items.size()), 1, [&](int64_t item_begin, int64_t item_end) {
      AttentionTile tile(max_rows, s.head_dim_k, s.head_dim_v, s.scale);
      std::vector<int64_t> visible(static_cast<size_t>(max_rows));
      std::vector<float> q_rows(static_cast<size_t>(max_rows * s.head_dim_k));
      std::vector<float> o_rows(static_cast<size_t>(max_rows * s.head_dim_v));
      for (int64_t it = item_begin; it < item_end; ++it) {
        const Item& item = items[static_cast<size_t>(it)];
        const BatchSegment& seg = segments_[item.seg];
        const int64_t first = views_[item.seg].first_row + item.t0;  // step row of the tile's first token
        for (int64_t t = 0; t < item.nt; ++t)
          for (int64_t h = 0; h < group; ++h) {
            const int64_t row = t * group + h;
            const float* src = q + (first + t) * q_stride + (item.g * group + h) * s.head_dim_k;
            std::copy(src, src + s.head_dim_k, q_rows.data() + row * s.head_dim_k);
            visible[static_cast<size_t>(row)] = seg.seq->n_past + item.t0 + t + 1;
          }
        tile.begin(q_rows.data(), static_cast<size_t>(s.head_dim_k), item.nt * group, visible.data());
        const int64_t n_pos = seg.seq->n_past + item.t0 + item.nt;
        for (int64_t p0 = 0; p0 < n_pos; p0 += bs)
          tile.add(kv_.block_rows(layer, seg.seq->blocks[static_cast<size_t>(p0 / bs)], item.g * s.head_dim_k,
                                  item.g * s.head_dim_v, p0, std::min(bs, n_pos - p0)));
        tile.finish(o_rows.data(), static_cast<size_t>(s.head_dim_v));
        for (int64_t t = 0; t < item.nt; ++t)
          for (int64_t h = 0; h < group; ++h) {
            const float* src = o_rows.data() + (t * group + h) * s.head_dim_v;
            std::copy(src, src + s.head_dim_v, out + (first + t) * o_stride + (item.g * group + h) * s.head_dim_v);
          }
      }
    });
  }

  void read_keys(int layer, size_t segment, int64_t n_pos, int64_t col, int64_t n_cols, float* out) const override {
    if (segment >= segments_.size()) fail("batch attention: segment {} of {}", segment, segments_.size());
    const BatchSegment& seg = segments_[segment];
    const int64_t bs = kv_.block_size();
    if (n_pos < 0 || n_pos > seg.seq->n_past + seg.n_tokens)
      fail("batch attention: {} positions of a sequence that holds {}", n_pos, seg.seq->n_past + seg.n_tokens);
    if (col < 0 || n_cols < 0 || col + n_cols > kv_.shape(layer).k_width)
      fail("batch attention: key columns {}+{} out of range", col, n_cols);
    for (int64_t p0 = 0; p0 < n_pos; p0 += bs) {
      const int64_t rows = std::min(bs, n_pos - p0);
      const KvRows r = kv_.block_rows(layer, seg.seq->blocks[static_cast<size_t>(p0 / bs)], col, 0, p0, rows);
      kv_rows_to_f32(r.type, r.k, r.k_stride, rows, n_cols, out + p0 * n_cols, static_cast<size_t>(n_cols));
    }
  }

 private:
  PagedKvPool& kv_;
  ThreadPool& pool_;
  std::span<const BatchSegment> segments_;
  int64_t n_rows_;
  int64_t n_real_ = 0;
  std::vector<Segment> views_;
};

}  // namespace

std::vector<KvLayerShape> BatchForward::kv_shapes(const model::Model& model) {
  std::vector<KvLayerShape> shapes;
  for (const auto& layer : model.layers()) shapes.push_back(layer->kv_shape());
  return shapes;
}

BatchForward::BatchForward(const model::Model& model, PagedKvPool& kv, ThreadPool& pool, int64_t n_ctx,
                           bool batch_invariant)
    : model_(model),
      kv_(kv),
      pool_(pool),
      n_ctx_(n_ctx),
      row_multiple_(batch_invariant && !kernels_batch_invariant(model) ? kTokenRowMultiple : 1) {
  if (kv.n_layers() != model.layers().size())
    fail("paged KV pool has {} layers, the model {}", kv.n_layers(), model.layers().size());
  if (n_ctx <= 0) fail("batch: context size {} must be positive", n_ctx);
}

int64_t BatchForward::padded(int64_t n) const { return (n + row_multiple_ - 1) / row_multiple_ * row_multiple_; }

void BatchForward::validate(std::span<const int32_t> tokens, std::span<const BatchSegment> segments) const {
  const int64_t n_vocab = model_.config().n_vocab;
  int64_t total = 0;
  for (const BatchSegment& s : segments) {
    if (s.seq == nullptr || s.n_tokens <= 0) fail("batch: a segment has no sequence or no tokens");
    const int64_t end = s.seq->n_past + s.n_tokens;
    if (end > static_cast<int64_t>(s.seq->blocks.size()) * kv_.block_size())
      fail("batch: sequence holds {} blocks, too few for position {}", s.seq->blocks.size(), end - 1);
    if (end > n_ctx_) fail("batch: position {} is outside the context of {}", end - 1, n_ctx_);
    total += s.n_tokens;
  }
  if (total != static_cast<int64_t>(tokens.size()))
    fail("batch: segments cover {} tokens, {} given", total, tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      fail("token id {} at index {} is out of range: the vocabulary has {} tokens", tokens[i], i, n_vocab);
}

// Embeddings of the tokens, padded with copies of the first row.
void BatchForward::embed(std::span<const int32_t> tokens) {
  const int64_t n_embd = model_.config().n_embd;
  const auto n = static_cast<int64_t>(tokens.size());
  x_.resize(static_cast<size_t>(padded(n) * n_embd));
  for (int64_t t = 0; t < n; ++t)
    kernels::dequantize_weight_row(model_.token_embedding(), tokens[static_cast<size_t>(t)], x_.data() + t * n_embd);
  for (int64_t t = n; t < padded(n); ++t) std::copy(x_.begin(), x_.begin() + n_embd, x_.begin() + t * n_embd);
}

// Final norm and LM head for the given rows of the residual stream, into logits_.
void BatchForward::project_logits(const std::vector<int64_t>& rows) {
  const model::ModelConfig& c = model_.config();
  const auto n_rows = static_cast<int64_t>(rows.size());
  if (n_rows == 0) {
    logits_.clear();
    return;
  }
  const int64_t n_padded = padded(n_rows);
  logits_.resize(static_cast<size_t>(n_padded * c.n_vocab));
  float* normed = scratch_.get(kFinalNorm, static_cast<size_t>(n_padded * c.n_embd));
  for (int64_t r = 0; r < n_padded; ++r)
    kernels::rms_norm(x_.data() + rows[static_cast<size_t>(r < n_rows ? r : 0)] * c.n_embd,
                      model_.output_norm().data(), normed + r * c.n_embd, c.n_embd, c.rms_eps);
  kernels::matmul(model_.output(), normed, n_padded, logits_.data(), pool_);
  logits_.resize(static_cast<size_t>(n_rows * c.n_vocab));
}

std::span<const float> BatchForward::run(std::span<const int32_t> tokens,
                                         std::span<const BatchSegment> segments) {
  validate(tokens, segments);
  if (tokens.empty()) return {};
  const int64_t n = padded(static_cast<int64_t>(tokens.size()));
  embed(tokens);

  // RoPE angles per token, at each token's own position.
  const kernels::Rope& rope = model_.rope();
  const int64_t pairs = rope.n_pairs();
  float* cos = scratch_.get(kRopeCos, static_cast<size_t>(n * pairs));
  float* sin = scratch_.get(kRopeSin, static_cast<size_t>(n * pairs));
  int64_t t = 0;
  for (const BatchSegment& s : segments)
    for (int64_t j = 0; j < s.n_tokens; ++j, ++t) rope.angles(s.seq->n_past + j, 1, cos + t * pairs, sin + t * pairs);
  for (; t < n; ++t) rope.angles(0, 1, cos + t * pairs, sin + t * pairs);  // padding rows

  // The layers' dense KV cache is unused in batch mode; a one-position cache satisfies the
  // context's reference.
  KvCache unused_kv(1, kv_shapes(model_), KvType::F32);
  SegmentAttention attention(kv_, pool_, segments, n);
  model::LayerContext ctx{pool_, unused_kv, scratch_, rope, cos, sin, 0, n, nullptr, &attention};
  const auto& layers = model_.layers();
  for (size_t i = 0; i < layers.size(); ++i) layers[i]->forward(static_cast<int>(i), x_.data(), ctx);

  std::vector<int64_t> rows;
  t = 0;
  for (const BatchSegment& s : segments) {
    t += s.n_tokens;
    if (s.want_logits) rows.push_back(t - 1);
    s.seq->n_past += s.n_tokens;
  }
  project_logits(rows);
  return logits_;
}

}  // namespace edgellm::runtime
