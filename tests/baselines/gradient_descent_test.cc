#include "xfmr/baselines/gradient_descent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "baselines/solve_reference.h"
#include "xfmr/baselines/least_squares.h"
#include "xfmr/core/check.h"

using namespace xfmr;
using xfmr::test::randn_vec;

TEST(GradientDescent, OneStepByHand) {
  // w1 = (eta/k) Xᵀy from w0 = 0.
  const std::vector<double> x = {1, 2, -1, 0, 0.5, 1}, y = {3, 4, -2};
  const double eta = 0.3;
  std::vector<double> w(2);
  GradientDescent(1, eta).fit(IclContext{x.data(), y.data(), 3, 2}, w.data());
  EXPECT_NEAR(w[0], eta / 3 * (3 - 4 - 1), 1e-15);
  EXPECT_NEAR(w[1], eta / 3 * (6 + 0 - 2), 1e-15);
  GradientDescent(0, eta).fit(IclContext{x.data(), y.data(), 3, 2}, w.data());
  EXPECT_EQ(w, (std::vector<double>{0.0, 0.0}));
  const double q[2] = {1, 1};
  EXPECT_EQ(GradientDescent(5, eta)(IclContext{x.data(), y.data(), 0, 2}, q), 0.0);
}

TEST(GradientDescent, ManyStepsConvergeToLeastSquares) {
  Generator g(30);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t d = 1 + g.next_int(5);
    const int64_t k = trial % 2 == 0 ? 3 * d + g.next_int(d + 1) : 1 + g.next_int(d);  // k >= d, or k <= d
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
    // eta = k/‖X‖_F² <= 1/λ_max(XᵀX/k): stable, and from w = 0 GD stays in the row space, so it converges to
    // the minimum-norm solution also when k < d.
    double fro = 0.0;
    for (double v : x) fro += v * v;
    std::vector<double> w_gd(d), w_ls(d);
    GradientDescent(20000, static_cast<double>(k) / fro).fit(IclContext{x.data(), y.data(), k, d}, w_gd.data());
    LeastSquares().fit(IclContext{x.data(), y.data(), k, d}, w_ls.data());
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w_gd[j], w_ls[j], 1e-8) << "k=" << k << " d=" << d;
  }
}

// One GD step from 0 on noiseless prompts: w1 = eta·S·w with S = XᵀX/k, E[S²] = (k + d + 1)/k·I (Wishart), so the
// expected normalised error is eta²(k + d + 1)/k − 2·eta + 1. Averaged over k = 1..n−1 its minimiser is
// eta* = (n − 1) / Σ_k (k + d + 1)/k; for d = 5, n = 11: 10 / (10 + 6·H_10) = 0.36266.
TEST(GradientDescent, TunerFindsAnalyticOneStepOptimum) {
  const IclLinearConfig cfg{5, 11, 0.0};
  double h10 = 0.0;
  for (int k = 1; k <= 10; ++k) h10 += 1.0 / k;
  const double eta_star = 10.0 / (10.0 + 6.0 * h10);
  const GdTuneResult coarse = tune_gd_step_size(1, cfg, 1000, 7);
  ASSERT_EQ(coarse.grid.size(), 17u);
  EXPECT_NEAR(coarse.eta, std::pow(10.0, -0.5), 1e-12);  // the grid point nearest eta* (0.316 vs 0.562)
  std::vector<double> fine;
  for (int i = 0; i <= 30; ++i) fine.push_back(0.2 + 0.01 * i);
  const GdTuneResult f = tune_gd_step_size(1, cfg, 4000, 8, fine);
  EXPECT_NEAR(f.eta, eta_star, 0.04);
  // The measured error at the chosen eta is close to the analytic value.
  double expect = 0.0;
  for (int k = 1; k <= 10; ++k) expect += f.eta * f.eta * (k + 6.0) / k - 2.0 * f.eta + 1.0;
  size_t i = 0;
  while (f.grid[i] != f.eta) ++i;
  EXPECT_NEAR(f.error[i], expect / 10.0, 0.03);
  // Same seed, same answer.
  const GdTuneResult again = tune_gd_step_size(1, cfg, 1000, 7);
  EXPECT_EQ(again.error, coarse.error);
}

TEST(GradientDescent, TunerRejectsDivergentSteps) {
  // With many steps a step size far above 2/λ_max diverges; the tuner scores it +inf and picks a stable one.
  const IclLinearConfig cfg{5, 11, 0.0};
  const double grid[] = {0.05, 10.0};
  const GdTuneResult r = tune_gd_step_size(200, cfg, 64, 9, grid);
  EXPECT_TRUE(std::isinf(r.error[1]));
  EXPECT_TRUE(std::isfinite(r.error[0]));
  EXPECT_EQ(r.eta, 0.05);
}

TEST(GradientDescent, BadInput) {
  EXPECT_THROW(GradientDescent(-1, 0.1), Error);
  EXPECT_THROW(GradientDescent(1, 0.0), Error);
  try {
    tune_gd_step_size(1, IclLinearConfig{}, 0);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tune_gd_step_size"), std::string::npos);
  }
}

TEST(GradientDescent, MatchesLongDoubleRecursion) {
  // Both internal forms (residuals from X, or the Gram matrix XᵀX, chosen by flop count) follow the same iterates.
  Generator g(31);
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t d = 1 + g.next_int(8), k = 1 + g.next_int(20);
    const int64_t steps = (trial % 4 == 0) ? 1 : (trial % 4 == 1) ? 3 : (trial % 4 == 2) ? 10 : 60;
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
    double fro = 0.0;
    for (double v : x) fro += v * v;
    const double eta = 0.9 * static_cast<double>(k) / fro;
    std::vector<long double> ref(d, 0.0L), r(k);
    for (int64_t t = 0; t < steps; ++t) {
      for (int64_t i = 0; i < k; ++i) {
        r[i] = -static_cast<long double>(y[i]);
        for (int64_t j = 0; j < d; ++j) r[i] += static_cast<long double>(x[i * d + j]) * ref[j];
      }
      for (int64_t j = 0; j < d; ++j) {
        long double s = 0.0L;
        for (int64_t i = 0; i < k; ++i) s += x[i * d + j] * r[i];
        ref[j] -= eta / k * s;
      }
    }
    std::vector<double> w(d);
    GradientDescent(steps, eta).fit(IclContext{x.data(), y.data(), k, d}, w.data());
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w[j], static_cast<double>(ref[j]), 1e-12 * (1 + std::fabs(w[j])));
  }
}
