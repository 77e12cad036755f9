// Next-token sampling from logits, seeded and reproducible (core/rng.h Philox: the same seed gives the same
// tokens on any machine and thread count). The chain, in order:
//   1. repetition penalty (Keskar et al. 2019, CTRL §4.1): each distinct token among the last repeat_last_n
//   has
//      its logit divided by r when positive, multiplied by r when negative;
//   2. temperature <= 0: greedy (argmax, the lowest id on ties, as llama2.c); else logits / T and softmax;
//   3. top-k: keep the k most probable (k <= 0: all);
//   4. top-p (nucleus, Holtzman et al. 2020): keep the smallest most-probable set whose mass reaches p;
//   5. min-p (Nguyen et al. 2024): keep tokens with probability >= min_p * the largest probability;
//   6. draw from the kept tokens, renormalised, with one uniform number.
// All work buffers are sized in the constructor: sample() does not allocate.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/core/rng.h"

namespace xfmr::infer {

struct SamplerConfig {
  float temperature = 1.0f;
  int64_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;  // 1: off
  int64_t repeat_last_n = 64;
  uint64_t seed = 0;
};

// Error naming the setting when a value is out of range (negative temperature, top_p outside (0, 1], ...).
void validate_sampler_config(const SamplerConfig& c);

class Sampler {
 public:
  Sampler(const SamplerConfig& cfg, int64_t vocab_size);
  // Picks the next token from logits [vocab] (modified in place), given the sequence so far.
  int32_t sample(float* logits, const int32_t* history, int64_t n_history);
  static int32_t argmax(const float* x, int64_t n);

 private:
  SamplerConfig cfg_;
  int64_t vocab_;
  Generator gen_;
  std::vector<int32_t> idx_;
  std::vector<float> prob_;
  std::vector<uint8_t> seen_;
};

}  // namespace xfmr::infer
