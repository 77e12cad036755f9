#include "xfmr/baselines/lasso.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"

namespace xfmr {

double soft_threshold(double z, double t) {
  if (z > t) return z - t;
  if (z < -t) return z + t;
  return 0.0;
}

Lasso::Lasso(double alpha, int64_t max_sweeps, double tol) : alpha_(alpha), max_sweeps_(max_sweeps), tol_(tol) {
  XF_CHECK(alpha >= 0 && std::isfinite(alpha), "lasso: alpha must be finite and >= 0, got ", alpha);
  XF_CHECK(max_sweeps > 0, "lasso: max_sweeps must be positive, got ", max_sweeps);
  XF_CHECK(tol >= 0, "lasso: tol must be >= 0, got ", tol);
}

int64_t Lasso::fit(const IclContext& ctx, double* w) {
  const int64_t k = ctx.k, d = ctx.d;
  std::fill(w, w + d, 0.0);
  if (k == 0) return 0;
  const double inv_k = 1.0 / static_cast<double>(k);
  r_.assign(ctx.y, ctx.y + k);  // residual y − Xw with w = 0
  col_sq_.assign(d, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j) col_sq_[j] += ctx.x[i * d + j] * ctx.x[i * d + j];
  int64_t sweep = 0;
  while (sweep < max_sweeps_) {
    ++sweep;
    double max_change = 0.0, max_w = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      if (col_sq_[j] == 0.0) continue;
      // rho = (1/k) x_jᵀ r_j with r_j = r + x_j w_j (the residual without coordinate j).
      double dot = 0.0;
      for (int64_t i = 0; i < k; ++i) dot += ctx.x[i * d + j] * r_[i];
      const double old = w[j];
      const double rho = (dot + col_sq_[j] * old) * inv_k;
      const double nw = soft_threshold(rho, alpha_) / (col_sq_[j] * inv_k);
      const double delta = nw - old;
      if (delta != 0.0) {
        for (int64_t i = 0; i < k; ++i) r_[i] -= ctx.x[i * d + j] * delta;
        w[j] = nw;
      }
      max_change = std::max(max_change, std::fabs(delta));
      max_w = std::max(max_w, std::fabs(nw));
    }
    if (max_change <= tol_ * std::max(1.0, max_w)) break;
  }
  return sweep;
}

double Lasso::operator()(const IclContext& ctx, const double* x_query) {
  w_.resize(ctx.d);
  fit(ctx, w_.data());
  double s = 0.0;
  for (int64_t j = 0; j < ctx.d; ++j) s += w_[j] * x_query[j];
  return s;
}

}  // namespace xfmr
