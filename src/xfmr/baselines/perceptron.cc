#include "xfmr/baselines/perceptron.h"

#include "xfmr/core/check.h"

namespace xfmr {

Perceptron::Perceptron(int64_t epochs) : epochs_(epochs) {
  XF_CHECK(epochs >= 1, "perceptron: epochs must be positive, got ", epochs);
}

double Perceptron::operator()(const IclContext& ctx, const double* x_query) {
  const int64_t k = ctx.k, d = ctx.d;
  if (k == 0) return 0.0;
  w_.assign(d, 0.0);
  double b = 0.0;
  for (int64_t e = 0; e < epochs_; ++e) {
    bool mistake = false;
    for (int64_t i = 0; i < k; ++i) {
      const double* x = ctx.x + i * d;
      const double y = ctx.y[i] > 0 ? 1.0 : -1.0;
      double s = b;
      for (int64_t j = 0; j < d; ++j) s += w_[j] * x[j];
      if (y * s > 0) continue;
      for (int64_t j = 0; j < d; ++j) w_[j] += y * x[j];
      b += y;
      mistake = true;
    }
    if (!mistake) break;
  }
  double s = b;
  for (int64_t j = 0; j < d; ++j) s += w_[j] * x_query[j];
  return s > 0 ? 1.0 : (s < 0 ? -1.0 : 0.0);
}

}  // namespace xfmr
