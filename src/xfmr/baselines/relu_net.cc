#include "xfmr/baselines/relu_net.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"
#include "xfmr/core/rng.h"

namespace xfmr {

ReluNet::ReluNet(const ReluNetOptions& opt) : opt_(opt) {
  XF_CHECK(opt.hidden > 0, "relu_net: hidden must be positive, got ", opt.hidden);
  XF_CHECK(opt.steps >= 0, "relu_net: steps must be >= 0, got ", opt.steps);
  XF_CHECK(opt.lr > 0 && std::isfinite(opt.lr), "relu_net: lr must be positive, got ", opt.lr);
}

void ReluNet::init(int64_t d) {
  d_ = d;
  const int64_t h = opt_.hidden, n = h * d + 2 * h + 1;
  p_.assign(n, 0.0);
  Generator g(opt_.seed);
  const double sw = 1.0 / std::sqrt(static_cast<double>(d)), sa = 1.0 / std::sqrt(static_cast<double>(h));
  for (int64_t i = 0; i < h * d; ++i) p_[i] = sw * g.next_normal();
  for (int64_t i = 0; i < h; ++i) p_[h * d + h + i] = sa * g.next_normal();
  g_.assign(n, 0.0);
  m_.assign(n, 0.0);
  v_.assign(n, 0.0);
  h_.assign(h, 0.0);
}

double ReluNet::predict(const double* x) const {
  if (p_.empty()) return 0.0;
  const int64_t h = opt_.hidden, d = d_;
  const double *w = p_.data(), *b = w + h * d, *a = b + h, c = a[h];
  double f = c;
  for (int64_t i = 0; i < h; ++i) {
    double z = b[i];
    for (int64_t j = 0; j < d; ++j) z += w[i * d + j] * x[j];
    if (z > 0) f += a[i] * z;
  }
  return f;
}

double ReluNet::fit(const double* x, const double* y, int64_t k, int64_t d) {
  init(d);
  if (k == 0) return 0.0;
  const int64_t h = opt_.hidden, n = static_cast<int64_t>(p_.size());
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double b1t = 1.0, b2t = 1.0, loss = 0.0;
  auto mse = [&] {
    double e = 0.0;
    for (int64_t j = 0; j < k; ++j) e += (predict(x + j * d) - y[j]) * (predict(x + j * d) - y[j]);
    return e / static_cast<double>(k);
  };
  for (int64_t step = 0; step < opt_.steps; ++step) {
    std::fill(g_.begin(), g_.end(), 0.0);
    double *w = p_.data(), *b = w + h * d, *a = b + h;
    double *gw = g_.data(), *gb = gw + h * d, *ga = gb + h, *gc = ga + h;
    for (int64_t j = 0; j < k; ++j) {
      const double* xj = x + j * d;
      double f = a[h];
      for (int64_t i = 0; i < h; ++i) {
        double z = b[i];
        for (int64_t l = 0; l < d; ++l) z += w[i * d + l] * xj[l];
        h_[i] = z;
        if (z > 0) f += a[i] * z;
      }
      const double r = 2.0 * (f - y[j]) / static_cast<double>(k);  // dL/df_j
      *gc += r;
      for (int64_t i = 0; i < h; ++i) {
        if (!(h_[i] > 0)) continue;
        ga[i] += r * h_[i];
        const double gz = r * a[i];
        gb[i] += gz;
        for (int64_t l = 0; l < d; ++l) gw[i * d + l] += gz * xj[l];
      }
    }
    b1t *= b1;
    b2t *= b2;
    for (int64_t i = 0; i < n; ++i) {
      m_[i] = b1 * m_[i] + (1 - b1) * g_[i];
      v_[i] = b2 * v_[i] + (1 - b2) * g_[i] * g_[i];
      p_[i] -= opt_.lr * (m_[i] / (1 - b1t)) / (std::sqrt(v_[i] / (1 - b2t)) + eps);
    }
  }
  loss = mse();
  return loss;
}

double ReluNet::operator()(const IclContext& ctx, const double* x_query) {
  if (ctx.k == 0) return 0.0;
  fit(ctx.x, ctx.y, ctx.k, ctx.d);
  return predict(x_query);
}

}  // namespace xfmr
