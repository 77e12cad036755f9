#include "xfmr/baselines/averaging.h"

namespace xfmr {

double Averaging::operator()(const IclContext& ctx, const double* x_query) const {
  if (ctx.k == 0) return 0.0;
  // w_hat·x = (1/k) Σ_i y_i (x_i·x): no need to form w_hat.
  double s = 0.0;
  for (int64_t i = 0; i < ctx.k; ++i) {
    const double* xi = ctx.x + i * ctx.d;
    double p = 0.0;
    for (int64_t j = 0; j < ctx.d; ++j) p += xi[j] * x_query[j];
    s += ctx.y[i] * p;
  }
  return s / static_cast<double>(ctx.k);
}

}  // namespace xfmr
