#include "xfmr/baselines/ridge.h"

#include <cmath>

#include "xfmr/core/check.h"

namespace xfmr {

Ridge::Ridge(double lambda) : lambda_(lambda) {
  XF_CHECK(lambda >= 0.0 && std::isfinite(lambda), "ridge: lambda must be finite and non-negative, got ", lambda);
}

void Ridge::fit(const IclContext& ctx, double* w) {
  XF_CHECK(ctx.k >= 0 && ctx.d > 0, "ridge: bad context k=", ctx.k, " d=", ctx.d);
  const int64_t k = ctx.k, d = ctx.d, m = k + d;
  // Column-major [X; √λ I] of shape [k + d, d].
  s_.a.assign(m * d, 0.0);
  s_.b.assign(m, 0.0);
  const double sl = std::sqrt(lambda_);
  for (int64_t j = 0; j < d; ++j) {
    double* col = s_.a.data() + j * m;
    for (int64_t i = 0; i < k; ++i) col[i] = ctx.x[i * d + j];
    col[k + j] = sl;
  }
  for (int64_t i = 0; i < k; ++i) s_.b[i] = ctx.y[i];
  lstsq_min_norm_colmajor(s_.a.data(), s_.b.data(), m, d, -1.0, s_, w);
}

double Ridge::operator()(const IclContext& ctx, const double* x_query) {
  if (ctx.k == 0) return 0.0;
  w_.resize(ctx.d);
  fit(ctx, w_.data());
  double s = 0.0;
  for (int64_t j = 0; j < ctx.d; ++j) s += w_[j] * x_query[j];
  return s;
}

}  // namespace xfmr
