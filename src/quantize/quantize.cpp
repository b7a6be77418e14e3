#include "quantize/quantize.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <span>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_writer.h"
#include "kernels/quant/quant.h"
#include "quantize/imatrix.h"
#include "runtime/thread_pool.h"

namespace edgellm::quantize {

namespace {

// Floats converted at a time: bounds the working memory for huge tensors (a 150k-token
// embedding is 600M weights) at 16 MiB, while slabs stay large enough to keep threads busy.
constexpr int64_t kSlabFloats = int64_t{4} << 20;

// GGUF_QUANTIZATION_VERSION of ggml (GGML_QNT_VERSION): the current block layouts.
constexpr uint32_t kQuantizationVersion = 2;

// Drops the pages of an mmapped, read-only tensor from our resident set once it is written, as
// llama.cpp's quantizer unmaps each weight; touching them again would re-read the file.
void release_pages(std::span<const uint8_t> mapping, const uint8_t* data, size_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto addr = reinterpret_cast<uintptr_t>(data);
  const auto map_end = reinterpret_cast<uintptr_t>(mapping.data() + mapping.size());
  const uintptr_t begin = addr / page * page;
  const uintptr_t end = std::min((addr + n + page - 1) / page * page, (map_end + page - 1) / page * page);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advisory only
}

int64_t n_matrices(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (size_t d = 2; d < dims.size(); ++d) n *= dims[d];
  return n;
}

// The importance weights for a tensor: cols values per expert matrix, or null when the imatrix
// has no entry (reported) or it is the token embedding, which llama.cpp also quantizes without.
const float* importance_for(const ImatrixData* imatrix, const gguf::TensorInfo& t) {
  if (imatrix == nullptr) return nullptr;
  const std::vector<float>* v = imatrix->find(t.name);
  if (v == nullptr) return nullptr;
  const auto expected = static_cast<size_t>(t.dims[0] * n_matrices(t.dims));
  if (v->size() == expected) return v->data();
  if (t.name == gguf::tensor::kTokenEmbedding) return nullptr;
  fail("imatrix entry '{}' has {} values but the tensor needs {} ({} columns x {} matrices)", t.name,
       v->size(), expected, t.dims[0], n_matrices(t.dims));
}

// Converts one tensor to `to`, a slab of rows at a time, rows split across the pool.
std::vector<uint8_t> convert_tensor(const gguf::TensorInfo& t, TensorType to, const float* importance,
                                    runtime::ThreadPool& pool) {
  if (t.type != TensorType::F32 && !quant::can_dequantize(t.type))
    fail("tensor '{}': cannot read type {}", t.name, type_name(t.type));
  if (!quant::can_quantize(to)) fail("tensor '{}': cannot write type {}", t.name, type_name(to));
  const int64_t row_len = t.dims[0];
  const int64_t n_rows = t.n_rows();
  const int64_t rows_per_matrix = n_rows / n_matrices(t.dims);
  const size_t in_row = row_bytes(t.type, row_len), out_row = row_bytes(to, row_len);
  std::vector<uint8_t> out(static_cast<size_t>(n_rows) * out_row);
  std::vector<float> slab;
  const int64_t slab_rows = std::max<int64_t>(1, kSlabFloats / row_len);
  for (int64_t row0 = 0; row0 < n_rows;) {
    // A slab never crosses into the next expert matrix: each has its own importance row.
    const int64_t matrix = row0 / rows_per_matrix;
    const int64_t rows = std::min(slab_rows, (matrix + 1) * rows_per_matrix - row0);
    const uint8_t* src = t.data + static_cast<size_t>(row0) * in_row;
    const float* x = reinterpret_cast<const float*>(src);
    if (t.type != TensorType::F32) {
      slab.resize(static_cast<size_t>(rows * row_len));
      pool.parallel_for(rows, 1, [&](int64_t b, int64_t e) {
        quant::dequantize_row(t.type, src + static_cast<size_t>(b) * in_row, slab.data() + b * row_len,
                              (e - b) * row_len);
      });
      x = slab.data();
    }
    const float* imp = importance ? importance + matrix * row_len : nullptr;
    uint8_t* dst = out.data() + static_cast<size_t>(row0) * out_row;
    pool.parallel_for(rows, 1, [&](int64_t b, int64_t e) {
      quant::quantize_rows(to, x + b * row_len, dst + static_cast<size_t>(b) * out_row, e - b, row_len, imp);
    });
    row0 += rows;
  }
  return out;
}

void copy_metadata(const gguf::GgufFile& in, gguf::GgufWriter& w, const QuantizeOptions& o) {
  for (const gguf::KeyValue& kv : in.metadata()) w.set(kv.key, kv.value);
  w.set_u32(gguf::key::kQuantizationVersion, kQuantizationVersion);
  w.set_u32(gguf::key::kFileType, static_cast<uint32_t>(o.scheme.file_type));
  if (o.imatrix) {  // the keys llama-quantize records
    w.set_string("quantize.imatrix.file", o.imatrix_file);
    if (!o.imatrix->dataset.empty()) w.set_string("quantize.imatrix.dataset", o.imatrix->dataset);
    w.set_u32("quantize.imatrix.entries_count", static_cast<uint32_t>(o.imatrix->importance.size()));
    w.set_u32("quantize.imatrix.chunks_count", static_cast<uint32_t>(std::max(o.imatrix->n_chunks, 0)));
  }
}

}  // namespace

QuantizeSummary quantize_model(const std::string& in_path, const std::string& out_path,
                               const QuantizeOptions& options, runtime::ThreadPool& pool,
                               const ProgressFn& progress) {
  std::error_code ec;
  if (std::filesystem::equivalent(in_path, out_path, ec))
    fail("quantize: the output {} is the input file", out_path);
  const gguf::GgufFile in = gguf::GgufFile::open(in_path);
  const auto& tensors = in.tensors();

  std::vector<TensorDesc> descs;
  descs.reserve(tensors.size());
  for (const auto& t : tensors) descs.push_back({t.name, t.type, t.dims});
  const PolicyOptions policy{options.imatrix != nullptr, options.keep_output_f16};
  const std::vector<TensorChoice> choices =
      choose_tensor_types(read_model_shape(in), descs, options.scheme, policy);

  gguf::GgufWriter w;
  copy_metadata(in, w, options);
  for (size_t i = 0; i < tensors.size(); ++i) w.declare_tensor(tensors[i].name, choices[i].type, tensors[i].dims);
  w.begin_stream(out_path);

  QuantizeSummary summary;
  summary.n_tensors = static_cast<int>(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const gguf::TensorInfo& t = tensors[i];
    const TensorChoice& c = choices[i];
    TensorReport r{i, tensors.size(), t.name, t.dims, t.type, c.type, c.preferred};
    r.bytes_in = t.n_bytes;
    if (c.type == t.type) {  // nothing to do: the bytes go through unchanged
      w.write_tensor_data(t.name, std::span<const uint8_t>(t.data, t.n_bytes));
      r.bytes_out = t.n_bytes;
    } else {
      const float* importance = importance_for(options.imatrix, t);
      r.used_imatrix = importance != nullptr;
      if (options.imatrix && !importance && c.quantizable) ++summary.n_without_imatrix;
      std::vector<uint8_t> data;
      try {
        data = convert_tensor(t, c.type, importance, pool);
      } catch (const Error& e) {
        fail("tensor '{}' ({} -> {}): {}", t.name, type_name(t.type), type_name(c.type), e.what());
      }
      w.write_tensor_data(t.name, data);
      r.bytes_out = data.size();
    }
    release_pages(in.bytes(), t.data, t.n_bytes);
    if (c.preferred) ++summary.n_fallbacks;
    summary.bytes_in += r.bytes_in;
    summary.bytes_out += r.bytes_out;
    summary.n_elements += t.n_elements();
    if (progress) progress(r);
  }
  w.finish_stream();
  return summary;
}

}  // namespace edgellm::quantize
