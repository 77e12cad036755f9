#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>

#include "baselines/solve_reference.h"
#include "xfmr/baselines/averaging.h"
#include "xfmr/baselines/knn.h"
#include "xfmr/core/check.h"

using namespace xfmr;
using xfmr::test::randn_vec;

TEST(NearestNeighbors, MatchesBruteForceSort) {
  Generator g(20);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t d = 1 + g.next_int(6), k = g.next_int(15), nn = 1 + g.next_int(5);
    std::vector<double> x = randn_vec(k * d, g);
    const std::vector<double> y = randn_vec(k, g), q = randn_vec(d, g);
    // Some exact duplicates, to exercise ties (the earlier point wins).
    for (int64_t i = 1; i < k; i += 3)
      for (int64_t j = 0; j < d; ++j) x[i * d + j] = x[(i - 1) * d + j];
    std::vector<std::pair<double, int64_t>> order;
    for (int64_t i = 0; i < k; ++i) {
      double s = 0.0;
      for (int64_t j = 0; j < d; ++j) s += (x[i * d + j] - q[j]) * (x[i * d + j] - q[j]);
      order.push_back({s, i});
    }
    std::sort(order.begin(), order.end());
    const int64_t m = std::min(nn, k);
    double expect = 0.0;
    for (int64_t i = 0; i < m; ++i) expect += y[order[i].second];
    expect = m > 0 ? expect / m : 0.0;
    NearestNeighbors knn(nn);
    EXPECT_DOUBLE_EQ(knn(IclContext{x.data(), y.data(), k, d}, q.data()), expect);
  }
}

TEST(NearestNeighbors, SmallExamples) {
  // 1-D points 0, 1, 2, 10 with y = 0, 10, 20, 100; query 1.4: nearest 1 (0.4), 2 (0.6), 0 (1.4).
  const std::vector<double> x = {0, 1, 2, 10}, y = {0, 10, 20, 100};
  const double q = 1.4;
  EXPECT_DOUBLE_EQ(NearestNeighbors(1)(IclContext{x.data(), y.data(), 4, 1}, &q), 10.0);
  EXPECT_DOUBLE_EQ(NearestNeighbors(3)(IclContext{x.data(), y.data(), 4, 1}, &q), 10.0);
  EXPECT_DOUBLE_EQ(NearestNeighbors(2)(IclContext{x.data(), y.data(), 4, 1}, &q), 15.0);
  EXPECT_DOUBLE_EQ(NearestNeighbors(3)(IclContext{x.data(), y.data(), 2, 1}, &q), 5.0);  // fewer points: all
  EXPECT_EQ(NearestNeighbors(3)(IclContext{x.data(), y.data(), 0, 1}, &q), 0.0);
  EXPECT_THROW(NearestNeighbors(0), Error);
}

TEST(Averaging, ByHand) {
  // x1 = (1, 2), y1 = 3; x2 = (−1, 0), y2 = 4: w_hat = ((3, 6) + (−4, 0)) / 2 = (−0.5, 3).
  const std::vector<double> x = {1, 2, -1, 0}, y = {3, 4};
  const double q[2] = {2.0, 1.0};
  EXPECT_DOUBLE_EQ(Averaging{}(IclContext{x.data(), y.data(), 2, 2}, q), -0.5 * 2.0 + 3.0 * 1.0);
  EXPECT_DOUBLE_EQ(Averaging{}(IclContext{x.data(), y.data(), 1, 2}, q), 3.0 * (2.0 + 2.0));
  EXPECT_EQ(Averaging{}(IclContext{x.data(), y.data(), 0, 2}, q), 0.0);
}

TEST(Averaging, UnbiasedForGaussianInputs) {
  // E[w_hat] = E[x xᵀ] w = w: the average of w_hat over many contexts approaches w.
  Generator g(21);
  const int64_t d = 3, k = 4, trials = 20000;
  const std::vector<double> w = {1.0, -2.0, 0.5};
  std::vector<double> mean(d, 0.0);
  for (int64_t t = 0; t < trials; ++t) {
    const std::vector<double> x = randn_vec(k * d, g);
    std::vector<double> y(k, 0.0);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < d; ++j) y[i] += x[i * d + j] * w[j];
    for (int64_t j = 0; j < d; ++j) {
      double e[3] = {0, 0, 0};
      e[j] = 1.0;
      mean[j] += Averaging{}(IclContext{x.data(), y.data(), k, d}, e);
    }
  }
  // Var of one coordinate of w_hat ≈ (‖w‖² + w_j²)/k ≤ 2.6: SE over 20000 ≤ 0.012.
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(mean[j] / trials, w[j], 0.05);
}
