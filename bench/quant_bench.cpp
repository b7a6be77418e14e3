// Throughput of the scalar reference (de)quantizers per format, on one 4096-wide row of
// Gaussian data (a typical hidden size). Reported as elements per second.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "gguf/tensor_type.h"
#include "kernels/quant/quant.h"

namespace {

using edgellm::TensorType;

constexpr int64_t kRowLen = 4096;

std::vector<float> gaussian_row() {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> x(kRowLen);
  for (auto& v : x) v = dist(rng);
  return x;
}

void BM_Dequantize(benchmark::State& state, TensorType type) {
  const std::vector<float> x = gaussian_row();
  std::vector<uint8_t> q(edgellm::row_bytes(type, kRowLen));
  edgellm::quant::quantize_rows(type, x.data(), q.data(), 1, kRowLen);
  std::vector<float> y(kRowLen);
  for (auto _ : state) {
    edgellm::quant::dequantize_row(type, q.data(), y.data(), kRowLen);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kRowLen);
}

void BM_Quantize(benchmark::State& state, TensorType type, bool with_importance) {
  const std::vector<float> x = gaussian_row();
  const std::vector<float> importance(kRowLen, 1.f);
  std::vector<uint8_t> q(edgellm::row_bytes(type, kRowLen));
  for (auto _ : state) {
    edgellm::quant::quantize_rows(type, x.data(), q.data(), 1, kRowLen, with_importance ? importance.data() : nullptr);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kRowLen);
}

void register_all() {
  const TensorType types[] = {TensorType::F16,  TensorType::BF16, TensorType::Q4_0, TensorType::Q4_1,
                              TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0, TensorType::Q2_K,
                              TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K,
                              TensorType::Q8_K, TensorType::IQ4_NL};
  for (TensorType type : types) {
    const std::string name(edgellm::type_name(type));
    benchmark::RegisterBenchmark(("dequantize/" + name).c_str(), BM_Dequantize, type);
    benchmark::RegisterBenchmark(("quantize/" + name).c_str(), BM_Quantize, type, false);
    if (type != TensorType::F16 && type != TensorType::BF16 && type != TensorType::Q8_0 && type != TensorType::Q8_K)
      benchmark::RegisterBenchmark(("quantize_imatrix/" + name).c_str(), BM_Quantize, type, true);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
