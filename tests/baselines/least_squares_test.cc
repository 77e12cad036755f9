#include "xfmr/baselines/least_squares.h"

#include <gtest/gtest.h>

#include <cmath>

#include "baselines/solve_reference.h"
#include "xfmr/tasks/icl_linear.h"

using namespace xfmr;
using xfmr::test::randn_vec;

namespace {
double norm2(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x * x;
  return s;
}
// Max |X w − y|.
double max_residual(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& w,
                    int64_t k, int64_t d) {
  double m = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    double s = -y[i];
    for (int64_t j = 0; j < d; ++j) s += x[i * d + j] * w[j];
    m = std::max(m, std::fabs(s));
  }
  return m;
}
}  // namespace

TEST(LeastSquares, FullRankMatchesNormalEquations) {
  Generator g(1);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t d = 1 + g.next_int(10);
    const int64_t k = d + g.next_int(2 * d + 4);  // k >= d: overdetermined or square
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
    std::vector<double> w(d);
    LeastSquares ls;
    EXPECT_EQ(ls.fit(IclContext{x.data(), y.data(), k, d}, w.data()), d);
    const std::vector<long double> ref = test::normal_solve(x, y, k, d, 0.0L);
    double scale = 0.0;
    for (long double v : ref) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    for (int64_t j = 0; j < d; ++j)
      EXPECT_NEAR(w[j], static_cast<double>(ref[j]), 1e-9 * (1.0 + scale)) << "k=" << k << " d=" << d;
  }
}

TEST(LeastSquares, UnderdeterminedIsMinimumNormInterpolant) {
  Generator g(2);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t d = 2 + g.next_int(12);
    const int64_t k = 1 + g.next_int(d - 1);  // 1 <= k < d
    const std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
    std::vector<double> w(d);
    LeastSquares ls;
    EXPECT_EQ(ls.fit(IclContext{x.data(), y.data(), k, d}, w.data()), k);
    EXPECT_LT(max_residual(x, y, w, k, d), 1e-10);  // interpolates
    const std::vector<long double> ref = test::min_norm_solve(x, y, k, d);
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w[j], static_cast<double>(ref[j]), 1e-9);
    // Any null-space direction added keeps the fit and increases the norm: v = u − X⁺X u for random u.
    const std::vector<double> u = randn_vec(d, g);
    std::vector<double> xu(k, 0.0), pu(d);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < d; ++j) xu[i] += x[i * d + j] * u[j];
    ls.fit(IclContext{x.data(), xu.data(), k, d}, pu.data());
    std::vector<double> w2(d);
    for (int64_t j = 0; j < d; ++j) w2[j] = w[j] + (u[j] - pu[j]);
    EXPECT_LT(max_residual(x, y, w2, k, d), 1e-9);
    EXPECT_GT(norm2(w2), norm2(w));
    // Orthogonality: the null-space vector is orthogonal to w (w lies in the row space).
    double ip = 0.0;
    for (int64_t j = 0; j < d; ++j) ip += w[j] * (u[j] - pu[j]);
    EXPECT_NEAR(ip, 0.0, 1e-9 * (1.0 + std::sqrt(norm2(w) * norm2(u))));
  }
}

TEST(LeastSquares, RankDeficient) {
  Generator g(3);
  // Zero columns (the curriculum's inactive coordinates): zero weight there, LS on the active ones.
  const int64_t k = 9, d = 6, active = 4;
  std::vector<double> x = randn_vec(k * d, g), y = randn_vec(k, g);
  std::vector<double> xa(k * active);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j) {
      if (j >= active) x[i * d + j] = 0.0;
      else xa[i * active + j] = x[i * d + j];
    }
  std::vector<double> w(d);
  LeastSquares ls;
  EXPECT_EQ(ls.fit(IclContext{x.data(), y.data(), k, d}, w.data()), active);
  const std::vector<long double> ref = test::normal_solve(xa, y, k, active, 0.0L);
  for (int64_t j = 0; j < active; ++j) EXPECT_NEAR(w[j], static_cast<double>(ref[j]), 1e-10);
  for (int64_t j = active; j < d; ++j) EXPECT_EQ(w[j], 0.0);
  // Duplicated column: the min-norm solution splits the weight equally between the copies.
  std::vector<double> x2 = randn_vec(k * 3, g), y2 = randn_vec(k, g), x3(k * 4);
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < 3; ++j) x3[i * 4 + j] = x2[i * 3 + j];
    x3[i * 4 + 3] = x2[i * 3 + 1];
  }
  std::vector<double> w3(4), w2(3);
  EXPECT_EQ(ls.fit(IclContext{x3.data(), y2.data(), k, 4}, w3.data()), 3);
  ls.fit(IclContext{x2.data(), y2.data(), k, 3}, w2.data());
  EXPECT_NEAR(w3[0], w2[0], 1e-10);
  EXPECT_NEAR(w3[2], w2[2], 1e-10);
  EXPECT_NEAR(w3[1], w2[1] / 2, 1e-10);
  EXPECT_NEAR(w3[3], w2[1] / 2, 1e-10);
  // Repeated rows with k > d but rank 1: the min-norm solution of x·w = mean(y) along x.
  std::vector<double> xr(5 * 3), yr = {1.0, 2.0, 3.0, 4.0, 5.0};
  const double v[3] = {1.0, -2.0, 2.0};  // ‖v‖² = 9
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 3; ++j) xr[i * 3 + j] = v[j];
  std::vector<double> wr(3);
  EXPECT_EQ(ls.fit(IclContext{xr.data(), yr.data(), 5, 3}, wr.data()), 1);
  for (int64_t j = 0; j < 3; ++j) EXPECT_NEAR(wr[j], 3.0 * v[j] / 9.0, 1e-14);
  // All-zero X: w = 0.
  std::vector<double> xz(4 * 2, 0.0), yz = {1.0, 2.0, 3.0, 4.0}, wz(2, 7.0);
  EXPECT_EQ(ls.fit(IclContext{xz.data(), yz.data(), 4, 2}, wz.data()), 0);
  EXPECT_EQ(wz, (std::vector<double>{0.0, 0.0}));
}

TEST(LeastSquares, IllConditionedStaysAccurate) {
  // X = U diag(s) Vᵀ with singular values 1 .. 1e-6 (cond 1e6) and y = X w*: an orthogonal method recovers w* to
  // ~cond·eps ≈ 1e-10; the normal equations (cond² ≈ 1e12) would lose ~4 more digits.
  Generator g(4);
  const int64_t k = 12, d = 6;
  const std::vector<double> u = test::random_orthonormal(k, d, g), v = test::random_orthonormal(d, d, g);
  std::vector<double> x(k * d, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t r = 0; r < d; ++r) x[i * d + j] += u[i * d + r] * std::pow(10.0, -1.2 * r) * v[j * d + r];
  const std::vector<double> wstar = randn_vec(d, g);
  std::vector<double> y(k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j) y[i] += x[i * d + j] * wstar[j];
  std::vector<double> w(d);
  LeastSquares ls;
  EXPECT_EQ(ls.fit(IclContext{x.data(), y.data(), k, d}, w.data()), d);
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(w[j], wstar[j], 1e-8);
}

TEST(LeastSquares, PredictAndEmptyContext) {
  const std::vector<double> x = {1.0, 0.0, 0.0, 1.0, 1.0, 1.0}, y = {1.0, 2.0, 3.0};  // exact w = (1, 2)
  const double q[2] = {0.5, -1.0};
  LeastSquares ls;
  EXPECT_NEAR(ls(IclContext{x.data(), y.data(), 3, 2}, q), 0.5 - 2.0, 1e-14);
  EXPECT_EQ(ls(IclContext{x.data(), y.data(), 0, 2}, q), 0.0);
}

// Garg et al. §3: for noiseless prompts with w, x ~ N(0, I_d), min-norm LS from k < d points recovers the
// projection of w on the span of the x's, so E[(ŷ − y)²]/d = E‖(I − P)w‖²/d = (d − k)/d; for k >= d it is exact.
TEST(LeastSquares, ExpectedErrorBelowDimension) {
  Generator g(5);
  const int64_t P = 5000, n = 8, d = 5;
  const IclBatch b = sample_icl_linear(P, n, d, d, 0.0, g);
  // Labels recomputed in double from the stored x and w, so that k >= d tests the solver, not the f32 rounding
  // of the stored y (which the square k = d systems amplify by cond(X)).
  const std::vector<double> xs = b.xs.to_vector(), ws = b.w.to_vector();
  std::vector<double> ys(P * n, 0.0);
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) ys[p * n + i] += ws[p * d + j] * xs[(p * n + i) * d + j];
  LeastSquares ls;
  for (int64_t k = 0; k < n; ++k) {
    double sum = 0.0, sum2 = 0.0;
    for (int64_t p = 0; p < P; ++p) {
      const double* x = xs.data() + p * n * d;
      const double* y = ys.data() + p * n;
      const double e = ls(IclContext{x, y, k, d}, x + k * d) - y[k];
      sum += e * e / d;
      sum2 += (e * e / d) * (e * e / d);
    }
    const double mean = sum / P, se = std::sqrt((sum2 / P - mean * mean) / (P - 1));
    if (k < d) {
      EXPECT_NEAR(mean, static_cast<double>(d - k) / d, 3.0 * se) << "k=" << k;
    } else {
      EXPECT_LT(mean, 1e-16) << "k=" << k;  // exact up to rounding
    }
  }
}
