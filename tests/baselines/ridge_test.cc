#include "xfmr/baselines/ridge.h"

#include <gtest/gtest.h>

#include <string>

#include "baselines/solve_reference.h"
#include "xfmr/baselines/least_squares.h"
#include "xfmr/core/check.h"

using namespace xfmr;
using xfmr::test::randn_vec;

TEST(Ridge, MatchesClosedForm) {
  Generator g(10);
  const double lambdas[] = {1e-3, 0.1, 1.0, 25.0};
  for (int trial = 0; trial < 100; ++trial) {
    const int64_t d = 1 + g.next_int(10);
    const int64_t k = 1 + g.next_int(2 * d + 3);  // both k < d and k >= d
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
    const double lambda = lambdas[trial % 4];
    Ridge r(lambda);
    std::vector<double> w(d);
    r.fit(IclContext{x.data(), y.data(), k, d}, w.data());
    const std::vector<long double> ref = test::normal_solve(x, y, k, d, lambda);
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w[j], static_cast<double>(ref[j]), 1e-10) << k << " " << d;
    const std::vector<double> q = randn_vec(d, g);
    double pred = 0.0;
    for (int64_t j = 0; j < d; ++j) pred += static_cast<double>(ref[j]) * q[j];
    EXPECT_NEAR(r(IclContext{x.data(), y.data(), k, d}, q.data()), pred, 1e-9);
  }
}

TEST(Ridge, LambdaLimits) {
  Generator g(11);
  const int64_t k = 4, d = 7;  // underdetermined: lambda -> 0 gives the min-norm interpolant
  const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g), q = randn_vec(d, g);
  const IclContext ctx{x.data(), y.data(), k, d};
  LeastSquares ls;
  const double p_ls = ls(ctx, q.data());
  EXPECT_NEAR(Ridge(0.0)(ctx, q.data()), p_ls, 1e-12);
  EXPECT_NEAR(Ridge(1e-9)(ctx, q.data()), p_ls, 1e-6);
  // Huge lambda shrinks to (1/λ)Xᵀy.
  const double lam = 1e8;
  std::vector<double> w(d);
  Ridge(lam).fit(ctx, w.data());
  for (int64_t j = 0; j < d; ++j) {
    double s = 0.0;
    for (int64_t i = 0; i < k; ++i) s += x[i * d + j] * y[i];
    EXPECT_NEAR(w[j], s / lam, 1e-14);
  }
  EXPECT_EQ(Ridge(1.0)(IclContext{x.data(), y.data(), 0, d}, q.data()), 0.0);
}

TEST(Ridge, BadInput) {
  try {
    Ridge r(-1.0);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ridge"), std::string::npos);
  }
}
