// One-time choice of the kernel level, the checked entry points, and the format tables.
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/panel_layout.h"
#include "kernels/simd/cpu_features.h"
#include "kernels/simd/isa_sets.h"
#include "kernels/simd/kernels.h"
#include "kernels/simd/stream_tuning.h"

namespace edgellm::kernels {
namespace {

constexpr std::string_view kIsaNames[kNumIsas] = {
    "scalar", "avx2", "avx512", "avx512vnni", "neon", "neon_dotprod", "neon_i8mm", "avxvnni"};

struct Registry {
  std::array<std::optional<KernelSet>, kNumIsas> sets;
  Isa best = Isa::Scalar;
};

Registry build_registry() {
  Registry reg;
  const KernelSet scalar = detail::make_scalar_set();
  reg.sets[static_cast<int>(Isa::Scalar)] = scalar;
  const CpuFeatures& cpu = cpu_features();
  for (const auto& entry : detail::compiled_isas()) {
    if (!entry.runs_on(cpu)) continue;
    KernelSet set = entry.make();
    set.isa = entry.isa;
    // A level may leave formats to the scalar code (it then is simply not faster for them).
    for (int i = 0; i < kNumFormats; ++i) {
      if (!set.formats[i].matvec) set.formats[i].matvec = scalar.formats[i].matvec;
      if (!set.formats[i].matmul) set.formats[i].matmul = scalar.formats[i].matmul;
    }
    if (!set.quantize_q8_0) set.quantize_q8_0 = scalar.quantize_q8_0;
    if (!set.quantize_q8_k) set.quantize_q8_k = scalar.quantize_q8_k;
    if (!set.f16_to_f32) set.f16_to_f32 = scalar.f16_to_f32;
    if (!set.swiglu) set.swiglu = scalar.swiglu;
    if (!set.int8_peak_probe) set.int8_peak_probe = scalar.int8_peak_probe;
    if (!set.read_probe) set.read_probe = scalar.read_probe;
    reg.sets[static_cast<int>(entry.isa)] = set;
    reg.best = entry.isa;
  }
  return reg;
}

const Registry& registry() {
  static const Registry reg = build_registry();
  return reg;
}

}  // namespace

namespace detail {

const KernelSet& select_kernel_set(const char* request) {
  const Registry& reg = registry();
  if (request == nullptr || *request == '\0' || std::string_view(request) == "auto")
    return *reg.sets[static_cast<int>(reg.best)];
  const auto isa = isa_from_name(request);
  if (!isa)
    fail("EDGELLM_ISA={}: unknown level (auto, scalar, avx2, avxvnni, avx512, avx512vnni, "
         "neon, neon_dotprod, neon_i8mm)", request);
  const auto& set = reg.sets[static_cast<int>(*isa)];
  if (!set) fail("EDGELLM_ISA={}: this CPU or build cannot run that level", request);
  return *set;
}

}  // namespace detail

namespace {

const FormatKernels& checked_format(const KernelSet& ks, TensorType type, int64_t cols,
                                    size_t row_stride, int64_t row_begin, int64_t row_end) {
  const int index = format_index(type);
  if (index < 0) fail("kernels: no matvec/matmul kernel for type {}", type_name(type));
  const size_t bytes = row_bytes(type, cols);  // throws when cols is not whole blocks
  if (row_begin < 0 || row_end < row_begin)
    fail("kernels: bad row range [{}, {})", row_begin, row_end);
  if (row_end > row_begin && row_stride < bytes)
    fail("kernels: row stride {} is shorter than a {}-column {} row ({} bytes)", row_stride, cols,
         type_name(type), bytes);
  return ks.formats[index];
}

// The checks and edge cases every batched entry shares: false when there is nothing for the
// kernel to do (no rows or tokens; no columns, where y gets zeros).
bool batch_needs_kernel(TensorType type, int64_t row_begin, int64_t row_end, int64_t cols, size_t xq_stride,
                        int64_t n_tokens, float* y, size_t y_stride) {
  if (n_tokens < 0) fail("kernels: negative token count {}", n_tokens);
  if (n_tokens > 1 && (xq_stride < act_row_bytes(type, cols) || y_stride < size_t(row_end)))
    fail("kernels: activation stride {} or output stride {} too short", xq_stride, y_stride);
  if (row_end == row_begin || n_tokens == 0) return false;
  if (cols == 0) {
    for (int64_t t = 0; t < n_tokens; ++t)
      for (int64_t r = row_begin; r < row_end; ++r) y[t * y_stride + r] = 0.0f;
    return false;
  }
  return true;
}

}  // namespace

std::string_view isa_name(Isa isa) { return kIsaNames[static_cast<int>(isa)]; }

std::optional<Isa> isa_from_name(std::string_view name) {
  for (int i = 0; i < kNumIsas; ++i)
    if (kIsaNames[i] == name) return static_cast<Isa>(i);
  return std::nullopt;
}

int format_index(TensorType type) {
  switch (type) {
    case TensorType::F32: return 0;
    case TensorType::F16: return 1;
    case TensorType::BF16: return 2;
    case TensorType::Q4_0: return 3;
    case TensorType::Q4_1: return 4;
    case TensorType::Q5_0: return 5;
    case TensorType::Q5_1: return 6;
    case TensorType::Q8_0: return 7;
    case TensorType::IQ4_NL: return 8;
    case TensorType::Q2_K: return 9;
    case TensorType::Q3_K: return 10;
    case TensorType::Q4_K: return 11;
    case TensorType::Q5_K: return 12;
    case TensorType::Q6_K: return 13;
    default: return -1;
  }
}

bool supports(TensorType type) { return format_index(type) >= 0; }

ActType act_type(TensorType type) {
  const int index = format_index(type);
  if (index < 0) fail("kernels: no activation format for weight type {}", type_name(type));
  if (index < 3) return ActType::F32;
  if (index < 9) return ActType::Q8_0;
  return ActType::Q8_K;
}

size_t act_row_bytes(TensorType type, int64_t cols) {
  row_bytes(type, cols);  // validates cols against the weight block size
  switch (act_type(type)) {
    case ActType::F32: return static_cast<size_t>(cols) * sizeof(float);
    case ActType::Q8_0: return static_cast<size_t>(cols / 32) * (34 + 2);
    case ActType::Q8_K: return static_cast<size_t>(cols / 256) * 292;
  }
  return 0;
}

bool KernelSet::batch_invariant(TensorType type) const {
  const int index = format_index(type);
  return index >= 0 && formats[static_cast<size_t>(index)].batch_invariant;
}

void KernelSet::quantize_activations(TensorType type, const float* x, int64_t cols,
                                     void* out) const {
  act_row_bytes(type, cols);
  switch (act_type(type)) {
    case ActType::F32:
      if (cols > 0) std::memcpy(out, x, static_cast<size_t>(cols) * sizeof(float));
      return;
    case ActType::Q8_0: quantize_q8_0(x, cols, out); return;
    case ActType::Q8_K: quantize_q8_k(x, cols, out); return;
  }
}

void KernelSet::matvec(TensorType type, const uint8_t* w, size_t row_stride, int64_t row_begin,
                       int64_t row_end, int64_t cols, const void* xq, float* y) const {
  const auto& k = checked_format(*this, type, cols, row_stride, row_begin, row_end);
  if (row_end == row_begin) return;
  if (cols == 0) {
    for (int64_t r = row_begin; r < row_end; ++r) y[r] = 0.0f;
    return;
  }
  k.matvec(w, row_stride, row_begin, row_end, cols, xq, y);
}

void KernelSet::matmul(TensorType type, const uint8_t* w, size_t row_stride, int64_t row_begin,
                       int64_t row_end, int64_t cols, const void* xq, size_t xq_stride,
                       int64_t n_tokens, float* y, size_t y_stride) const {
  const auto& k = checked_format(*this, type, cols, row_stride, row_begin, row_end);
  if (!batch_needs_kernel(type, row_begin, row_end, cols, xq_stride, n_tokens, y, y_stride)) return;
  k.matmul(w, row_stride, row_begin, row_end, cols, xq, xq_stride, n_tokens, y, y_stride);
}

bool KernelSet::has_panel_kernels(TensorType type) const {
  const int index = format_index(type);
  return index >= 0 && formats[static_cast<size_t>(index)].panel_matmul != nullptr;
}

void KernelSet::panel_matmul(TensorType type, const uint8_t* w, size_t row_stride, int64_t row_begin,
                             int64_t row_end, int64_t cols, const void* xq, size_t xq_stride,
                             int64_t n_tokens, float* y, size_t y_stride) const {
  const auto& k = checked_format(*this, type, cols, row_stride, row_begin, row_end);
  if (k.panel_matmul == nullptr) fail("kernels: level {} has no panel kernels for {}", isa_name(isa), type_name(type));
  if (row_begin % kPanelRows != 0 || row_end % kPanelRows != 0)
    fail("kernels: panel rows [{}, {}) do not start and end on a 16-row panel", row_begin, row_end);
  if (row_stride != row_bytes(type, cols)) fail("kernels: panel-layout rows must be contiguous (stride {})", row_stride);
  if (!batch_needs_kernel(type, row_begin, row_end, cols, xq_stride, n_tokens, y, y_stride)) return;
  k.panel_matmul(w, row_stride, row_begin, row_end, cols, xq, xq_stride, n_tokens, y, y_stride);
}

const KernelSet& active() {
  static const KernelSet& set = detail::select_kernel_set(std::getenv("EDGELLM_ISA"));
  return set;
}

const KernelSet* for_isa(Isa isa) {
  const auto& set = registry().sets[static_cast<int>(isa)];
  return set ? &*set : nullptr;
}

Isa best_isa() { return registry().best; }

std::string describe() {
  const Registry& reg = registry();
  std::string out = "cpu: " + describe_cpu_features(cpu_features()) + "\nkernels: scalar";
  for (const auto& entry : detail::compiled_isas()) {
    out += ' ';
    out += isa_name(entry.isa);
    if (!reg.sets[static_cast<int>(entry.isa)]) out += "(unsupported)";
  }
  out += "\nactive: ";
  out += isa_name(active().isa);
  out += "\ndecode streaming: ";
  out += stream_tuning().name;
  return out;
}

}  // namespace edgellm::kernels
