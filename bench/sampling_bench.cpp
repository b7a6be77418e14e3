// Cost of one Sampler::sample call on a Qwen2-sized vocabulary (152064 logits) for the main
// configurations: greedy, llama.cpp's defaults (top-k 40 first, so no full sort), top-p alone
// (one full sort) and plain temperature sampling (no sort at all).
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "sampling/sampler.h"

namespace {

std::vector<float> vocab_logits() {
  std::mt19937 generator(1);
  std::normal_distribution<float> normal(0.0f, 2.5f);
  std::vector<float> logits(152064);
  for (float& logit : logits) logit = normal(generator);
  return logits;
}

void run(benchmark::State& state, edgellm::SamplingParams params) {
  const std::vector<float> logits = vocab_logits();
  params.repeat_penalty = 1.1f;
  edgellm::Sampler sampler(params);
  for (int32_t token = 0; token < 64; ++token) sampler.accept(token * 997);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(logits));
}

void BM_SampleGreedy(benchmark::State& state) {
  edgellm::SamplingParams params;
  params.temperature = 0.0f;
  run(state, params);
}

void BM_SampleDefaults(benchmark::State& state) { run(state, edgellm::SamplingParams{}); }

void BM_SampleTopPOnly(benchmark::State& state) {
  edgellm::SamplingParams params;
  params.top_k = 0;
  params.top_p = 0.9f;
  params.min_p = 0.0f;
  run(state, params);
}

void BM_SampleTemperatureOnly(benchmark::State& state) {
  edgellm::SamplingParams params;
  params.top_k = 0;
  params.top_p = 1.0f;
  params.min_p = 0.0f;
  run(state, params);
}

}  // namespace

BENCHMARK(BM_SampleGreedy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleDefaults)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleTopPOnly)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SampleTemperatureOnly)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
