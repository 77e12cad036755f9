#include "xfmr/infer/sampler.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"

namespace xfmr::infer {

void validate_sampler_config(const SamplerConfig& c) {
  XF_CHECK(std::isfinite(c.temperature) && c.temperature >= 0, "sampler: temperature ", c.temperature,
           " must be >= 0");
  XF_CHECK(c.top_k >= 0, "sampler: top-k ", c.top_k, " must be >= 0 (0: off)");
  XF_CHECK(c.top_p > 0 && c.top_p <= 1, "sampler: top-p ", c.top_p, " must be in (0, 1]");
  XF_CHECK(c.min_p >= 0 && c.min_p <= 1, "sampler: min-p ", c.min_p, " must be in [0, 1]");
  XF_CHECK(std::isfinite(c.repeat_penalty) && c.repeat_penalty > 0, "sampler: repeat penalty ",
           c.repeat_penalty, " must be > 0");
  XF_CHECK(c.repeat_last_n >= 0, "sampler: repeat window ", c.repeat_last_n, " must be >= 0");
}

Sampler::Sampler(const SamplerConfig& cfg, int64_t vocab_size)
    : cfg_(cfg),
      vocab_(vocab_size),
      gen_(cfg.seed),
      idx_(static_cast<size_t>(vocab_size)),
      prob_(static_cast<size_t>(vocab_size)),
      seen_(static_cast<size_t>(vocab_size), 0) {
  validate_sampler_config(cfg);
  XF_CHECK(vocab_size > 0, "sampler: vocabulary size ", vocab_size);
}

int32_t Sampler::argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return static_cast<int32_t>(best);
}

int32_t Sampler::sample(float* logits, const int32_t* history, int64_t n_history) {
  const int64_t V = vocab_;
  // A NaN logit (a diverged or corrupt model) would break the sort's ordering: it can never be chosen.
  for (int64_t i = 0; i < V; ++i)
    if (std::isnan(logits[i])) logits[i] = -INFINITY;
  if (cfg_.repeat_penalty != 1.0f && cfg_.repeat_last_n > 0) {
    const int64_t from = std::max<int64_t>(0, n_history - cfg_.repeat_last_n);
    for (int64_t i = from; i < n_history; ++i) {
      const int32_t t = history[i];
      if (t < 0 || t >= V || seen_[static_cast<size_t>(t)]) continue;
      seen_[static_cast<size_t>(t)] = 1;
      logits[t] = logits[t] > 0 ? logits[t] / cfg_.repeat_penalty : logits[t] * cfg_.repeat_penalty;
    }
    for (int64_t i = from; i < n_history; ++i)
      if (history[i] >= 0 && history[i] < V) seen_[static_cast<size_t>(history[i])] = 0;
  }
  if (cfg_.temperature <= 0) return argmax(logits, V);

  // Softmax of logits / T.
  const float mx = logits[argmax(logits, V)];
  if (!std::isfinite(mx)) return argmax(logits, V);  // +inf wins outright; all -inf: nothing to weigh
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += (prob_[i] = std::exp((logits[i] - mx) / cfg_.temperature));
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < V; ++i) prob_[i] *= inv;

  // Candidates, most probable first where a filter needs the order.
  int64_t n = V;
  for (int64_t i = 0; i < V; ++i) idx_[i] = static_cast<int32_t>(i);
  const auto by_prob = [this](int32_t a, int32_t b) {
    return prob_[a] > prob_[b] || (prob_[a] == prob_[b] && a < b);
  };
  if (cfg_.top_k > 0 && cfg_.top_k < n) {
    std::partial_sort(idx_.begin(), idx_.begin() + cfg_.top_k, idx_.begin() + n, by_prob);
    n = cfg_.top_k;
  } else if (cfg_.top_p < 1.0f || cfg_.min_p > 0) {
    // A token with probability below (1 - p) / (V - 1) can never be inside the nucleus (the rest of the
    // vocabulary together holds less than 1 - p), so drop those before sorting (as llama2.c does).
    // Likewise min-p keeps nothing below min_p * (the largest probability, which is inv).
    float cut = cfg_.top_p < 1.0f ? (1.0f - cfg_.top_p) / static_cast<float>(V > 1 ? V - 1 : 1) : 0.0f;
    cut = std::max(cut, cfg_.min_p * inv);
    int64_t m = 0;
    for (int64_t i = 0; i < V; ++i)
      if (prob_[i] >= cut) idx_[m++] = static_cast<int32_t>(i);
    n = m > 0 ? m : V;
    if (m == 0)
      for (int64_t i = 0; i < V; ++i) idx_[i] = static_cast<int32_t>(i);
    std::sort(idx_.begin(), idx_.begin() + n, by_prob);
  }
  if (cfg_.top_p < 1.0f) {
    double mass = 0;
    for (int64_t i = 0; i < n; ++i) {
      mass += prob_[idx_[i]];
      if (mass >= cfg_.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (cfg_.min_p > 0) {
    const float floor_p = cfg_.min_p * prob_[idx_[0]];  // idx_ is sorted here
    int64_t m = 1;
    while (m < n && prob_[idx_[m]] >= floor_p) ++m;
    n = m;
  }
  double kept = 0;
  for (int64_t i = 0; i < n; ++i) kept += prob_[idx_[i]];
  const double u = gen_.next_uniform() * kept;
  double cdf = 0;
  for (int64_t i = 0; i < n; ++i) {
    cdf += prob_[idx_[i]];
    if (u < cdf) return idx_[i];
  }
  return idx_[n - 1];  // rounding at the end of the cumulative sum
}

}  // namespace xfmr::infer
