#include "sampling_options.h"

namespace edgellm::cli {

void SamplingFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--temp", temperature, "Temperature (0 = greedy)")->capture_default_str();
  cmd.add_option("--top-k", top_k, "Top-k (0 = off)")->capture_default_str();
  cmd.add_option("--top-p", top_p, "Top-p (1 = off)")->capture_default_str();
  cmd.add_option("--min-p", min_p, "Min-p (0 = off)")->capture_default_str();
  cmd.add_option("--repeat-penalty", repeat_penalty, "Repeat penalty (1 = off)")->capture_default_str();
  cmd.add_option("--frequency-penalty", frequency_penalty, "Frequency penalty")->capture_default_str();
  cmd.add_option("--presence-penalty", presence_penalty, "Presence penalty")->capture_default_str();
  cmd.add_option("--seed", seed, "RNG seed (-1 = random)")->capture_default_str();
}

SamplingParams SamplingFlags::params() const {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.repeat_penalty = repeat_penalty;
  p.frequency_penalty = frequency_penalty;
  p.presence_penalty = presence_penalty;
  p.seed = seed < 0 ? random_seed() : static_cast<uint64_t>(seed);
  return p;
}

}  // namespace edgellm::cli
