// The sampler: greedy ties, each filter's kept set (top-k, top-p, min-p), the repetition penalty, seeded
// reproducibility and the sampled frequencies against the softmax (a chi-square-free 5-sigma check per
// token).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/errors.h"
#include "xfmr/infer/sampler.h"

namespace xfmr::infer {
namespace {

// logits whose softmax is exactly p (up to rounding): log p.
std::vector<float> logits_of(const std::vector<double>& p) {
  std::vector<float> l;
  for (double v : p) l.push_back(static_cast<float>(std::log(v)));
  return l;
}

std::vector<int> counts(SamplerConfig c, const std::vector<float>& logits, int draws) {
  Sampler s(c, static_cast<int64_t>(logits.size()));
  std::vector<int> n(logits.size(), 0);
  for (int i = 0; i < draws; ++i) {
    std::vector<float> l = logits;
    ++n[static_cast<size_t>(s.sample(l.data(), nullptr, 0))];
  }
  return n;
}

TEST(Sampler, GreedyTakesTheFirstMaximum) {
  SamplerConfig c;
  c.temperature = 0;
  Sampler s(c, 4);
  std::vector<float> l = {1, 3, 3, 2};
  EXPECT_EQ(s.sample(l.data(), nullptr, 0), 1);
  EXPECT_EQ(Sampler::argmax(l.data(), 4), 1);
}

TEST(Sampler, FrequenciesFollowSoftmaxAndFilters) {
  const std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  const auto l = logits_of(p);
  const int N = 20000;
  const auto expect_freq = [&](const std::vector<int>& n, const std::vector<double>& q) {
    for (size_t i = 0; i < q.size(); ++i) {
      const double sd = std::sqrt(N * q[i] * (1 - q[i]));
      EXPECT_NEAR(n[i], N * q[i], 5 * sd + 1e-9) << "token " << i;
    }
  };
  SamplerConfig c;
  c.seed = 11;
  expect_freq(counts(c, l, N), p);
  c.top_k = 2;  // {0, 1} renormalised
  expect_freq(counts(c, l, N), {0.625, 0.375, 0, 0});
  c.top_k = 0;
  c.top_p = 0.85f;  // 0.5 + 0.3 = 0.8 < 0.85, + 0.15 reaches it: {0, 1, 2}
  expect_freq(counts(c, l, N), {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0});
  c.top_p = 1;
  c.min_p = 0.4f;  // keeps p >= 0.2: {0, 1}
  expect_freq(counts(c, l, N), {0.625, 0.375, 0, 0});
  c.min_p = 0;
  c.temperature = 0.5f;  // p^2 renormalised
  const double z = 0.25 + 0.09 + 0.0225 + 0.0025;
  expect_freq(counts(c, l, N), {0.25 / z, 0.09 / z, 0.0225 / z, 0.0025 / z});
}

TEST(Sampler, SeededRunsRepeat) {
  const auto l = logits_of({0.4, 0.3, 0.2, 0.1});
  SamplerConfig c;
  c.seed = 5;
  Sampler a(c, 4), b(c, 4);
  c.seed = 6;
  Sampler other(c, 4);
  int differ = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> x = l, y = l, z = l;
    const int32_t ta = a.sample(x.data(), nullptr, 0);
    EXPECT_EQ(ta, b.sample(y.data(), nullptr, 0));
    differ += ta != other.sample(z.data(), nullptr, 0);
  }
  EXPECT_GT(differ, 20);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplerConfig c;
  c.temperature = 0;
  c.repeat_penalty = 1.2f;
  Sampler s(c, 3);
  std::vector<float> l = {2.0f, 2.1f, -1.0f};
  const std::vector<int32_t> hist = {1, 2, 1};
  EXPECT_EQ(s.sample(l.data(), hist.data(), 3), 0);  // 2.1 / 1.2 = 1.75 < 2
  EXPECT_FLOAT_EQ(l[1], 2.1f / 1.2f);
  EXPECT_FLOAT_EQ(l[2], -1.2f);  // penalised once although seen twice
  c.repeat_last_n = 1;           // only the last token (1) counts
  Sampler s1(c, 3);
  std::vector<float> m = {2.0f, 2.1f, -1.0f};
  const std::vector<int32_t> h2 = {2, 1};
  s1.sample(m.data(), h2.data(), 2);
  EXPECT_FLOAT_EQ(m[2], -1.0f);
}

TEST(Sampler, NanLogitsAreNeverChosen) {
  SamplerConfig c;
  c.top_p = 0.9f;
  Sampler s(c, 4);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> l = {NAN, 1.0f, NAN, 0.5f};
    const int32_t t = s.sample(l.data(), nullptr, 0);
    EXPECT_TRUE(t == 1 || t == 3) << t;
  }
  std::vector<float> all_nan = {NAN, NAN};
  Sampler s2(c, 2);
  EXPECT_EQ(s2.sample(all_nan.data(), nullptr, 0), 0);
}

TEST(Sampler, BadSettingsAreErrors) {
  SamplerConfig c;
  c.temperature = -1;
  test::expect_error([&] { Sampler s(c, 4); }, {"sampler", "temperature"});
  c = SamplerConfig{};
  c.top_p = 0;
  test::expect_error([&] { Sampler s(c, 4); }, {"sampler", "top-p"});
  c = SamplerConfig{};
  c.min_p = 2;
  test::expect_error([&] { Sampler s(c, 4); }, {"sampler", "min-p"});
  c = SamplerConfig{};
  c.repeat_penalty = 0;
  test::expect_error([&] { Sampler s(c, 4); }, {"sampler", "repeat penalty"});
  c = SamplerConfig{};
  c.top_k = -2;
  test::expect_error([&] { Sampler s(c, 4); }, {"sampler", "top-k"});
}

}  // namespace
}  // namespace xfmr::infer
