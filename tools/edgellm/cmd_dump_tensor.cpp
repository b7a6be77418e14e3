// `edgellm dump-tensor FILE.gguf NAME --out FILE.f32`: one tensor dequantized to raw
// little-endian float32, row-major (rows along the GGUF's slowest-varying dims, dims[0] the
// row length), for comparison against other tools.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "kernels/quant/quant.h"

namespace edgellm::cli {
namespace {

struct DumpOptions {
  std::string path;
  std::string tensor;
  std::string out;
};

// Rows are converted a batch at a time so a large tensor never needs all its floats in RAM.
constexpr int64_t kBatchFloats = int64_t{1} << 20;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

void dump_tensor(const DumpOptions& opt) {
  const gguf::GgufFile f = gguf::GgufFile::open(opt.path);
  const gguf::TensorInfo* t = f.find_tensor(opt.tensor);
  if (!t) fail("{}: no tensor named '{}' (the file has {} tensors; see `edgellm info`)", opt.path,
               opt.tensor, f.tensors().size());
  if (!quant::can_dequantize(t->type))
    fail("{}: tensor '{}' has type {}, which cannot be dequantized yet", opt.path, t->name,
         type_name(t->type));

  const int64_t row_len = t->dims[0];
  const int64_t n_rows = t->n_rows();
  const size_t bytes_per_row = row_bytes(t->type, row_len);
  const int64_t rows_per_batch = std::max<int64_t>(1, kBatchFloats / row_len);
  std::vector<float> batch(static_cast<size_t>(std::min(rows_per_batch, n_rows) * row_len));

  std::unique_ptr<std::FILE, FileCloser> out(std::fopen(opt.out.c_str(), "wb"));
  if (!out) fail("{}: cannot create: {}", opt.out, std::strerror(errno));
  try {
    for (int64_t row = 0; row < n_rows; row += rows_per_batch) {
      const int64_t rows = std::min(rows_per_batch, n_rows - row);
      const uint8_t* src = t->data + static_cast<size_t>(row) * bytes_per_row;
      quant::dequantize_row(t->type, src, batch.data(), rows * row_len);
      const size_t n = static_cast<size_t>(rows * row_len);
      if (std::fwrite(batch.data(), sizeof(float), n, out.get()) != n)
        fail("{}: write failed: {}", opt.out, std::strerror(errno));
    }
    if (std::fflush(out.get()) != 0) fail("{}: write failed: {}", opt.out, std::strerror(errno));
  } catch (const Error&) {
    out.reset();
    std::remove(opt.out.c_str());
    throw;
  }
  fmt::print("{}: {} {} [{}] -> {} floats ({} rows x {}) in {}\n", opt.path, t->name,
             type_name(t->type), fmt::join(t->dims, ", "), t->n_elements(), n_rows, row_len, opt.out);
}

}  // namespace

void add_dump_tensor_command(CLI::App& app) {
  auto opt = std::make_shared<DumpOptions>();
  CLI::App* cmd = app.add_subcommand(
      "dump-tensor", "Write one tensor dequantized to raw little-endian float32, row-major");
  cmd->add_option("file", opt->path, "GGUF file")->required();
  cmd->add_option("name", opt->tensor, "Tensor name, e.g. token_embd.weight")->required();
  cmd->add_option("--out,-o", opt->out, "Output file (raw float32)")->required();
  cmd->callback([opt] { dump_tensor(*opt); });
}

const CommandRegistration kRegisterDumpTensor(75, add_dump_tensor_command);

}  // namespace edgellm::cli
