// Lasso (coordinate descent) and Iterative Newton (Newton–Schulz) against closed forms and optimality conditions.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "baselines/solve_reference.h"
#include "xfmr/baselines/iterative_newton.h"
#include "xfmr/baselines/lasso.h"
#include "xfmr/baselines/least_squares.h"
#include "xfmr/core/check.h"

using namespace xfmr;
using xfmr::test::random_orthonormal;
using xfmr::test::randn_vec;

// On an orthogonal design XᵀX = k·I the Lasso objective separates per coordinate and its minimiser is the
// soft-thresholded least-squares solution: w_j = S(x_jᵀy/k, alpha).
TEST(Lasso, OrthogonalDesignIsSoftThresholdedLeastSquares) {
  Generator g(1);
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t d = 1 + g.next_int(8), k = d + g.next_int(10);
    std::vector<double> x = random_orthonormal(k, d, g);
    for (double& v : x) v *= std::sqrt(static_cast<double>(k));  // columns of squared norm k
    const std::vector<double> y = randn_vec(k, g);
    const double alpha = 0.02 + 0.5 * g.next_uniform();
    Lasso lasso(alpha);
    std::vector<double> w(d);
    lasso.fit(IclContext{x.data(), y.data(), k, d}, w.data());
    int zeros = 0;
    for (int64_t j = 0; j < d; ++j) {
      double z = 0.0;
      for (int64_t i = 0; i < k; ++i) z += x[i * d + j] * y[i];
      const double expect = soft_threshold(z / static_cast<double>(k), alpha);
      zeros += expect == 0.0;
      EXPECT_NEAR(w[j], expect, 1e-10) << "trial " << trial << " j " << j;
      if (expect == 0.0) {
        EXPECT_EQ(w[j], 0.0);
      }
    }
    (void)zeros;
  }
}

// Random (correlated, under- and over-determined) designs: the result satisfies the KKT conditions.
TEST(Lasso, KktConditionsOnRandomDesigns) {
  Generator g(2);
  int active_total = 0, zero_total = 0;
  for (int trial = 0; trial < 100; ++trial) {
    const int64_t d = 1 + g.next_int(10), k = 1 + g.next_int(20);
    std::vector<double> x = randn_vec(k * d, g);
    // Correlate neighbouring columns so coordinate descent needs many sweeps.
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 1; j < d; ++j) x[i * d + j] += 0.7 * x[i * d + j - 1];
    const std::vector<double> y = randn_vec(k, g);
    const double alpha = 0.01 + 0.3 * g.next_uniform();
    Lasso lasso(alpha, 100000, 1e-14);
    std::vector<double> w(d);
    lasso.fit(IclContext{x.data(), y.data(), k, d}, w.data());
    for (int64_t j = 0; j < d; ++j) {
      double c = 0.0;  // (1/k) x_jᵀ (y − Xw)
      for (int64_t i = 0; i < k; ++i) {
        double r = y[i];
        for (int64_t l = 0; l < d; ++l) r -= x[i * d + l] * w[l];
        c += x[i * d + j] * r;
      }
      c /= static_cast<double>(k);
      if (w[j] != 0.0) {
        ++active_total;
        EXPECT_NEAR(c, alpha * (w[j] > 0 ? 1.0 : -1.0), 1e-9) << "trial " << trial << " j " << j;
      } else {
        ++zero_total;
        EXPECT_LE(std::fabs(c), alpha + 1e-9) << "trial " << trial << " j " << j;
      }
    }
  }
  // Both kinds of coordinate occur, so both conditions were exercised.
  EXPECT_GT(active_total, 50);
  EXPECT_GT(zero_total, 50);
}

TEST(Lasso, RecoversSparseVectorAndEdgeCases) {
  // Noiseless sparse w with many points: small alpha recovers the support and nearly the values.
  Generator g(3);
  const int64_t d = 10, k = 40;
  const std::vector<double> x = randn_vec(k * d, g);
  std::vector<double> w_true(d, 0.0);
  w_true[1] = 1.5;
  w_true[6] = -2.0;
  w_true[8] = 0.7;
  std::vector<double> y(k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j) y[i] += x[i * d + j] * w_true[j];
  Lasso lasso(1e-3);
  std::vector<double> w(d);
  lasso.fit(IclContext{x.data(), y.data(), k, d}, w.data());
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w[j], w_true[j], 1e-2) << j;
  // alpha = 0 on a full-rank design is least squares.
  Lasso ols(0.0, 100000, 1e-15);
  LeastSquares ls;
  const std::vector<double> y2 = randn_vec(k, g);
  std::vector<double> w_ls(d);
  ls.fit(IclContext{x.data(), y2.data(), k, d}, w_ls.data());
  ols.fit(IclContext{x.data(), y2.data(), k, d}, w.data());
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w[j], w_ls[j], 1e-9) << j;
  // Empty context predicts 0; a huge alpha gives w = 0.
  const std::vector<double> q = randn_vec(d, g);
  EXPECT_EQ(lasso(IclContext{x.data(), y.data(), 0, d}, q.data()), 0.0);
  Lasso big(1e6);
  EXPECT_EQ(big(IclContext{x.data(), y.data(), k, d}, q.data()), 0.0);
  EXPECT_THROW(Lasso(-1.0), Error);
}

// Frobenius norm of I − S·M for the symmetric S of the context.
double newton_residual(const std::vector<double>& x, int64_t k, int64_t d, const std::vector<double>& m) {
  std::vector<double> s(d * d, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b) s[a * d + b] += x[i * d + a] * x[i * d + b];
  double e = 0.0;
  for (int64_t a = 0; a < d; ++a)
    for (int64_t b = 0; b < d; ++b) {
      double v = a == b ? 1.0 : 0.0;
      for (int64_t l = 0; l < d; ++l) v -= s[a * d + l] * m[l * d + b];
      e += v * v;
    }
  return std::sqrt(e);
}

// Well-conditioned full-rank data: the residual E_j = I − S M_j squares every iteration (‖E_{j+1}‖ ≤ ‖E_j‖²
// in Frobenius norm, exactly E_{j+1} = E_j² in exact arithmetic), and w_j reaches least squares.
TEST(IterativeNewton, ConvergesQuadraticallyToLeastSquares) {
  Generator g(4);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t d = 2 + g.next_int(6), k = 4 * d + g.next_int(10);
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
    const IclContext ctx{x.data(), y.data(), k, d};
    std::vector<double> w_ls(d), w(d), m(d * d);
    LeastSquares().fit(ctx, w_ls.data());
    double prev = -1.0, prev_err = 1e300;
    bool reached = false;
    for (int64_t it = 0; it <= 40; ++it) {
      IterativeNewton(it).fit(ctx, w.data(), m.data());
      const double res = newton_residual(x, k, d, m);
      if (prev >= 0 && prev < 0.5) {
        EXPECT_LE(res, prev * prev * (1 + 1e-6) + 1e-12) << "trial " << trial << " it " << it;
      }
      if (prev >= 0 && prev < 1) {
        EXPECT_LE(res, prev + 1e-12) << "residual grew, trial " << trial << " it " << it;
      }
      prev = res;
      double err = 0.0;
      for (int64_t j = 0; j < d; ++j) err += (w[j] - w_ls[j]) * (w[j] - w_ls[j]);
      err = std::sqrt(err);  // Euclidean: each eigen-component shrinks monotonically, so the norm does
      if (err < 1e-10) reached = true;
      if (it > 0 && prev_err > 1e-6) {
        EXPECT_LE(err, prev_err * (1 + 1e-9)) << "trial " << trial << " it " << it;
      }
      prev_err = err;
    }
    EXPECT_TRUE(reached) << "trial " << trial << " never within 1e-10 of least squares";
  }
}

// Rank-deficient contexts (k < d): the iteration stays in the range of S and reaches the minimum-norm solution.
TEST(IterativeNewton, RankDeficientGivesMinimumNorm) {
  Generator g(5);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t d = 3 + g.next_int(6), k = 1 + g.next_int(d - 1);
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g), q = randn_vec(d, g);
    const IclContext ctx{x.data(), y.data(), k, d};
    LeastSquares ls;
    IterativeNewton nw(60);
    EXPECT_NEAR(nw(ctx, q.data()), ls(ctx, q.data()), 1e-8) << "trial " << trial;
  }
  std::vector<double> q(4, 1.0);
  EXPECT_EQ(IterativeNewton(5)(IclContext{nullptr, nullptr, 0, 4}, q.data()), 0.0);
  EXPECT_THROW(IterativeNewton(-1), Error);
}
