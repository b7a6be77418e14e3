// Token sampling: turns one row of logits into the next token id, for `edgellm run`, `chat` and
// the OpenAI-compatible server.
//
// Order of the steps in Sampler::sample:
//   1. penalties   over the last `repeat_last_n` accepted tokens: repeat penalty (llama.cpp:
//                  logit > 0 -> logit / p, else logit * p), then frequency and presence penalties
//                  (OpenAI: logit -= count * frequency + (count > 0) * presence).
//   2. logit bias  logit += logit_bias[token]; a bias of -infinity bans the token.
//   3. greedy      if temperature == 0: the argmax of the result (ties -> lowest id); stop here.
//   4. top-k       keep the k largest logits (ties -> lower ids first).
//   5. temperature logits / temperature.
//   6. top-p       keep the most likely tokens whose probabilities sum to at least top_p (the
//                  token that crosses the threshold stays; at least one token always stays).
//   7. min-p       keep tokens with probability >= min_p * (probability of the most likely one).
//   8. draw        one token from the softmax of what is left, with the sampler's own RNG.
// Tokens whose logit is -infinity (after step 2) are never drawn.
//
// Compared with llama.cpp's default chain (logit bias, penalties, top-k, top-p, min-p,
// temperature, draw) two things differ on purpose: the bias is added after the penalties, so a
// bias is never scaled by the repeat penalty; and the temperature comes before top-p and min-p,
// so those see the distribution that is actually sampled (as in Hugging Face's generate). The
// temperature's place makes no difference at temperature 1 or with top-p and min-p off.
//
// Determinism: the same params (seed included), the same accepted tokens and the same logits
// give the same token. The RNG is xoshiro256** (sampling/rng.h), not a std:: distribution, and
// candidate order never depends on how a standard library's sort breaks ties, so only the math
// library's exp() could make two platforms differ.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "sampling/penalty_window.h"
#include "sampling/rng.h"
#include "sampling/sampling_steps.h"

namespace edgellm {

struct SamplingParams {
  // The defaults are llama.cpp's command-line defaults; the server overrides them per request.
  float temperature = 0.8f;        // 0 = greedy (argmax), as llama.cpp's --temp 0
  int32_t top_k = 40;              // 0 = off
  float top_p = 0.95f;             // in (0, 1]; 1 = off
  float min_p = 0.05f;             // in [0, 1]; 0 = off
  float repeat_penalty = 1.0f;     // > 0; 1 = off
  float frequency_penalty = 0.0f;  // 0 = off; negative values encourage repetition
  float presence_penalty = 0.0f;   // 0 = off
  int32_t repeat_last_n = 64;      // penalty window in tokens; 0 = no penalties, -1 = all
  uint64_t seed = 0;               // same seed -> same output; see random_seed()
  std::map<int32_t, float> logit_bias;  // token -> added to its logit (-inf bans it)
};

// Throws edgellm::Error naming the first invalid field: negative or non-finite temperature,
// negative top_k, top_p outside (0, 1], min_p outside [0, 1], repeat_penalty <= 0 or non-finite,
// non-finite frequency/presence penalty, repeat_last_n < -1, a negative token id or a NaN /
// +infinity bias in logit_bias. The Sampler constructor calls it; the server may call it earlier
// to reject a request before generation starts.
void validate(const SamplingParams& params);

// A fresh seed from std::random_device, for when the user asks for a random seed (llama.cpp's
// --seed -1). The sampler itself never draws entropy from the system.
uint64_t random_seed();

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // The next token for `logits` (one float per vocabulary entry). Does not record the token:
  // call accept() with whatever token is actually used. Throws edgellm::Error on empty logits,
  // a NaN or +infinity logit, every logit being -infinity after the bias, a logit_bias key
  // outside the vocabulary, or (when a penalty is active) a window token outside it.
  int32_t sample(std::span<const float> logits);

  // Records a token in the penalty window (prompt tokens too, if they should be penalized, as
  // llama.cpp does). Throws on a negative id.
  void accept(int32_t token);

  // Forgets the accepted tokens and restarts the RNG from the seed, so the next generation with
  // the same inputs repeats the previous one exactly.
  void reset();

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  sampling::PenaltyWindow window_;
  sampling::Xoshiro256StarStar rng_;
  bool penalties_active_;  // false when all three are neutral: skip the window entirely
  // Scratch buffers reused across calls so sampling does not allocate per token.
  std::vector<float> adjusted_logits_;
  sampling::CandidateList candidates_;
};

// Log-probabilities as the OpenAI API reports them (`logprobs` / `top_logprobs`): computed on the
// raw logits (before penalties, bias, temperature and truncation), log-softmax in double.
struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0.0f;
};

struct TokenLogprobs {
  TokenLogprob chosen;  // the token that was generated
  // The min(n, vocab) most likely tokens, best first (ties -> lower id first).
  std::vector<TokenLogprob> top;
};

// `chosen` is the sampled token (its log-probability is reported even when it is not among the
// top n). Throws edgellm::Error on empty or NaN logits, chosen outside the vocabulary or n < 0.
TokenLogprobs top_logprobs(std::span<const float> logits, int32_t chosen, int n);

}  // namespace edgellm
