// Importance matrices: for each weight matrix W (y = W·x), the mean over calibration tokens of
// x_j² for every input column j. Quantizing a row with these weights minimises the expected
// error of W·x rather than of W (llama.cpp's imatrix). Collected from the forward pass through a
// runtime::MatmulObserver and stored in llama.cpp's legacy imatrix.dat format, so files move
// between edgellm and llama.cpp (llama-imatrix --output-format dat / llama-quantize --imatrix).
//
// Legacy .dat layout (little-endian; llama.cpp tools/imatrix save_imatrix_legacy):
//   int32 n_entries
//   n_entries × { int32 name_len, name bytes, int32 ncall, int32 nval,
//                 float32 values[nval] = (Σ x_j² / n_tokens) · ncall }
//   int32 n_chunks, int32 dataset_len, dataset bytes        (trailer; optional when reading)
// Entries are sorted by name; ncall = ceil(n_tokens / chunk_size) is the number of calibration
// chunks the entry saw, so values / ncall is the per-token mean that quantizers use.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/matmul_observer.h"

namespace edgellm::quantize {

struct ImatrixData {
  // Per weight name: the mean of x_j² per column (cols × experts values; experts stacked).
  std::map<std::string, std::vector<float>, std::less<>> importance;
  // Per weight name: ncall as stored in the file (calibration chunks that reached it).
  std::map<std::string, int32_t, std::less<>> n_calls;
  int32_t n_chunks = 0;   // chunks of calibration text processed
  std::string dataset;    // calibration file name

  const std::vector<float>* find(std::string_view weight) const;
};

// Throws edgellm::Error naming the file and the problem (truncated, bad counts, non-finite or
// negative values). GGUF-format imatrix files are refused with a hint to use the .dat format.
ImatrixData load_imatrix(const std::string& path);
void save_imatrix(const ImatrixData& data, const std::string& path);

// Accumulates Σ x_j² and token counts per weight while a Session runs calibration text.
class ImatrixCollector final : public runtime::MatmulObserver {
 public:
  struct Options {
    bool include_output = false;  // also output.weight (llama-imatrix --process-output)
    // llama.cpp ignores matmuls over fewer tokens than this (its single-token decode steps).
    int64_t min_tokens = 16;
  };
  ImatrixCollector() = default;
  explicit ImatrixCollector(Options options) : options_(options) {}

  void observe(std::string_view weight, const float* x, int64_t n_tokens, int64_t cols) override;

  // The collected statistics as ImatrixData: importance = Σ x² / count, ncall = ceil(count /
  // chunk_size). Throws when nothing was collected or a sum is not finite.
  ImatrixData result(int64_t chunk_size, int32_t n_chunks, std::string dataset) const;

  struct Entry {
    std::vector<double> sum_sq;  // Σ x_j² per column
    int64_t n_tokens = 0;
  };
  const std::map<std::string, Entry, std::less<>>& entries() const { return entries_; }

 private:
  Options options_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace edgellm::quantize
