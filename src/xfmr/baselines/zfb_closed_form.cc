#include "xfmr/baselines/zfb_closed_form.h"

#include <cmath>
#include <utility>

#include "xfmr/core/check.h"

namespace xfmr {

std::vector<double> zfb_gamma(const std::vector<double>& lambda, int64_t d, double n_train) {
  XF_CHECK(d >= 1 && static_cast<int64_t>(lambda.size()) == d * d, "zfb_gamma: Λ must be [d, d] with d = ", d,
           ", got ", lambda.size(), " entries");
  XF_CHECK(n_train > 0, "zfb_gamma: the training prompt length N must be positive, got ", n_train);
  double tr = 0;
  for (int64_t i = 0; i < d; ++i) tr += lambda[i * d + i];
  std::vector<double> g(lambda.size());
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      g[i * d + j] = (1.0 + 1.0 / n_train) * lambda[i * d + j] + (i == j ? tr / n_train : 0.0);
  return g;
}

ZfbClosedForm::ZfbClosedForm(const std::vector<double>& gamma, int64_t d)
    : d_(d), gamma_(gamma), inv_(static_cast<size_t>(d * d), 0.0), v_(static_cast<size_t>(d)) {
  XF_CHECK(d >= 1 && static_cast<int64_t>(gamma.size()) == d * d, "ZfbClosedForm: Γ must be [d, d] with d = ", d,
           ", got ", gamma.size(), " entries");
  // Gauss–Jordan with partial pivoting on [Γ | I] (d is small: the input dimension).
  std::vector<double> a = gamma;
  for (int64_t i = 0; i < d; ++i) inv_[i * d + i] = 1.0;
  for (int64_t c = 0; c < d; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < d; ++r)
      if (std::fabs(a[r * d + c]) > std::fabs(a[p * d + c])) p = r;
    XF_CHECK(std::fabs(a[p * d + c]) > 1e-300, "ZfbClosedForm: Γ is singular (column ", c, ")");
    if (p != c)
      for (int64_t j = 0; j < d; ++j) {
        std::swap(a[c * d + j], a[p * d + j]);
        std::swap(inv_[c * d + j], inv_[p * d + j]);
      }
    const double piv = a[c * d + c];
    for (int64_t j = 0; j < d; ++j) {
      a[c * d + j] /= piv;
      inv_[c * d + j] /= piv;
    }
    for (int64_t r = 0; r < d; ++r) {
      if (r == c) continue;
      const double f = a[r * d + c];
      if (f == 0.0) continue;
      for (int64_t j = 0; j < d; ++j) {
        a[r * d + j] -= f * a[c * d + j];
        inv_[r * d + j] -= f * inv_[c * d + j];
      }
    }
  }
}

ZfbClosedForm ZfbClosedForm::for_train_length(const std::vector<double>& lambda, int64_t d, int64_t n_train) {
  return ZfbClosedForm(zfb_gamma(lambda, d, static_cast<double>(n_train)), d);
}

ZfbClosedForm ZfbClosedForm::prefix_averaged(const std::vector<double>& lambda, int64_t d, int64_t n_points) {
  XF_CHECK(n_points >= 2, "ZfbClosedForm::prefix_averaged: needs n_points >= 2, got ", n_points);
  std::vector<double> g(static_cast<size_t>(d * d), 0.0);
  for (int64_t n = 1; n < n_points; ++n) {
    const std::vector<double> gn = zfb_gamma(lambda, d, static_cast<double>(n));
    for (size_t i = 0; i < g.size(); ++i) g[i] += gn[i] / static_cast<double>(n_points - 1);
  }
  return ZfbClosedForm(g, d);
}

std::vector<double> ZfbClosedForm::identity(int64_t d) {
  std::vector<double> l(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i) l[i * d + i] = 1.0;
  return l;
}

double ZfbClosedForm::operator()(const IclContext& ctx, const double* x_query) {
  XF_CHECK(ctx.d == d_, "ZfbClosedForm: prompt has d = ", ctx.d, ", the closed form was built for d = ", d_);
  if (ctx.k == 0) return 0.0;
  for (int64_t j = 0; j < d_; ++j) v_[j] = 0.0;
  for (int64_t i = 0; i < ctx.k; ++i)
    for (int64_t j = 0; j < d_; ++j) v_[j] += ctx.y[i] * ctx.x[i * d_ + j];
  double s = 0.0;
  for (int64_t r = 0; r < d_; ++r) {
    double row = 0.0;
    for (int64_t j = 0; j < d_; ++j) row += inv_[r * d_ + j] * v_[j];
    s += x_query[r] * row;
  }
  return s / static_cast<double>(ctx.k);
}

}  // namespace xfmr
