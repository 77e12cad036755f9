// Zhang, Frei & Bartlett's closed form (Theorem 4.1): Γ's formula, the prediction against an independent solve,
// and that Γ⁻¹ minimises the in-context population loss (Monte Carlo over Gaussian prompts).
#include "xfmr/baselines/zfb_closed_form.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "baselines/solve_reference.h"
#include "xfmr/core/check.h"
#include "xfmr/core/rng.h"

using namespace xfmr;

namespace {
// A symmetric positive-definite Λ = A Aᵀ + 0.5 I.
std::vector<double> random_spd(int64_t d, Generator& g) {
  std::vector<double> a(d * d), l(d * d, 0.0);
  for (double& v : a) v = g.next_normal();
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      for (int64_t k = 0; k < d; ++k) l[i * d + j] += a[i * d + k] * a[j * d + k];
      if (i == j) l[i * d + j] += 0.5;
    }
  return l;
}
}  // namespace

TEST(ZfbClosedForm, GammaFormula) {
  Generator g(1);
  const int64_t d = 4;
  const auto lam = random_spd(d, g);
  double tr = 0;
  for (int64_t i = 0; i < d; ++i) tr += lam[i * d + i];
  const auto gam = zfb_gamma(lam, d, 10.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      EXPECT_NEAR(gam[i * d + j], 1.1 * lam[i * d + j] + (i == j ? tr / 10.0 : 0.0), 1e-12);
  ZfbClosedForm z(gam, d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) s += gam[i * d + k] * z.gamma_inv()[k * d + j];
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-10);
    }
}

TEST(ZfbClosedForm, PredictionMatchesDirectComputation) {
  Generator g(2);
  const int64_t d = 5, M = 7, N = 20;
  const auto lam = random_spd(d, g);
  ZfbClosedForm z = ZfbClosedForm::for_train_length(lam, d, N);
  std::vector<double> x(M * d), y(M), xq(d);
  for (double& v : x) v = g.next_normal();
  for (double& v : y) v = g.next_normal();
  for (double& v : xq) v = g.next_normal();
  // Direct: solve Γ u = (1/M) Σ y_i x_i with an independent long-double elimination, then x_qᵀ u.
  const auto gam = zfb_gamma(lam, d, N);
  test::Mat a(gam.begin(), gam.end());
  std::vector<long double> v(d, 0.0L);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < d; ++j) v[j] += static_cast<long double>(y[i]) * x[i * d + j] / M;
  const auto u = test::gauss_solve(a, v, d);
  long double want = 0;
  for (int64_t j = 0; j < d; ++j) want += xq[j] * u[j];
  EXPECT_NEAR(z(IclContext{x.data(), y.data(), M, d}, xq.data()), static_cast<double>(want), 1e-10);
  EXPECT_EQ(z(IclContext{x.data(), y.data(), 0, d}, xq.data()), 0.0);
  // Isotropic Λ = I: Γ = (1 + (1 + d)/N) I, so ŷ = x_q·v / (1 + (1 + d)/N).
  ZfbClosedForm iso = ZfbClosedForm::for_train_length(ZfbClosedForm::identity(d), d, N);
  double dot = 0;
  for (int64_t j = 0; j < d; ++j) dot += xq[j] * static_cast<double>(v[j]);
  EXPECT_NEAR(iso(IclContext{x.data(), y.data(), M, d}, xq.data()), dot / (1.0 + (1.0 + d) / N), 1e-12);
  // Prefix-averaged Γ for Λ = I: (1 + (1 + d)·mean_{j<n} 1/j) I.
  const int64_t n = 6;
  double h = 0;
  for (int64_t j = 1; j < n; ++j) h += 1.0 / j;
  ZfbClosedForm pre = ZfbClosedForm::prefix_averaged(ZfbClosedForm::identity(d), d, n);
  EXPECT_NEAR(pre.gamma()[0], 1.0 + (1.0 + d) * h / (n - 1), 1e-12);
  EXPECT_NEAR(pre.gamma()[1], 0.0, 1e-15);
}

TEST(ZfbClosedForm, GammaInverseMinimisesThePopulationLoss) {
  // L(U) = E[(x_qᵀ U S w − x_qᵀ w)²], S = (1/N) Σ x_i x_iᵀ, x ~ N(0, Λ), w ~ N(0, I). Common random numbers: the
  // same prompts score U = Γ⁻¹, c·Γ⁻¹ (c = 0.85, 1.15) and Λ⁻¹ (the N → ∞ answer, i.e. "least squares").
  Generator g(3);
  const int64_t d = 3, N = 8, P = 40000;
  const std::vector<double> lam = {1.0, 0.3, 0.0, 0.3, 0.8, 0.1, 0.0, 0.1, 0.4};
  // Cholesky factor for sampling x = C z.
  std::vector<double> c(9, 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = lam[i * d + j];
      for (int64_t k = 0; k < j; ++k) s -= c[i * d + k] * c[j * d + k];
      c[i * d + j] = i == j ? std::sqrt(s) : s / c[j * d + j];
    }
  ZfbClosedForm z = ZfbClosedForm::for_train_length(lam, d, N);
  ZfbClosedForm lsq(lam, d);  // Γ = Λ: U = Λ⁻¹
  auto draw = [&](double* x) {
    double zz[3];
    for (double& v : zz) v = g.next_normal();
    for (int64_t i = 0; i < d; ++i) {
      x[i] = 0;
      for (int64_t k = 0; k <= i; ++k) x[i] += c[i * d + k] * zz[k];
    }
  };
  double loss_opt = 0, loss_lo = 0, loss_hi = 0, loss_lsq = 0;
  std::vector<double> xs(N * d), ys(N), xq(d), w(d);
  for (int64_t p = 0; p < P; ++p) {
    for (double& v : w) v = g.next_normal();
    for (int64_t i = 0; i < N; ++i) {
      draw(xs.data() + i * d);
      ys[i] = 0;
      for (int64_t j = 0; j < d; ++j) ys[i] += w[j] * xs[i * d + j];
    }
    draw(xq.data());
    double yq = 0;
    for (int64_t j = 0; j < d; ++j) yq += w[j] * xq[j];
    const IclContext ctx{xs.data(), ys.data(), N, d};
    const double a = z(ctx, xq.data()), b = lsq(ctx, xq.data());
    loss_opt += (a - yq) * (a - yq);
    loss_lo += (0.85 * a - yq) * (0.85 * a - yq);
    loss_hi += (1.15 * a - yq) * (1.15 * a - yq);
    loss_lsq += (b - yq) * (b - yq);
  }
  EXPECT_LT(loss_opt, loss_lo);
  EXPECT_LT(loss_opt, loss_hi);
  EXPECT_LT(loss_opt, 0.95 * loss_lsq);
}

TEST(ZfbClosedForm, BadInputNamesTheOp) {
  EXPECT_THROW(zfb_gamma({1.0, 0.0, 0.0}, 2, 5.0), Error);
  try {
    zfb_gamma(ZfbClosedForm::identity(2), 2, 0.0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zfb_gamma"), std::string::npos);
  }
  try {
    ZfbClosedForm({0.0, 0.0, 0.0, 0.0}, 2);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ZfbClosedForm"), std::string::npos);
  }
  std::vector<double> x(4), y(2), q(3);
  ZfbClosedForm z = ZfbClosedForm::for_train_length(ZfbClosedForm::identity(3), 3, 4);
  EXPECT_THROW(z(IclContext{x.data(), y.data(), 2, 2}, q.data()), Error);
}
