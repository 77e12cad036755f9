#include "xfmr/baselines/gradient_descent.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

GradientDescent::GradientDescent(int64_t steps, double eta) : steps_(steps), eta_(eta) {
  XF_CHECK(steps >= 0, "gradient_descent: steps must be non-negative, got ", steps);
  XF_CHECK(eta > 0.0 && std::isfinite(eta), "gradient_descent: eta must be finite and positive, got ", eta);
}

void GradientDescent::fit(const IclContext& ctx, double* w) {
  const int64_t k = ctx.k, d = ctx.d;
  std::fill(w, w + d, 0.0);
  if (k == 0 || steps_ == 0) return;
  const double step = eta_ / static_cast<double>(k);
  // The gradient (1/k)Xᵀ(Xw − y) costs 2kd per step from X, or d² per step after forming G = XᵀX and c = Xᵀy once
  // (kd² + kd). Same iteration, cheaper when k and steps are large; pick the smaller flop count.
  const bool gram = d * d * (steps_ + k) < 2 * k * d * steps_;
  if (!gram) {
    r_.resize(k);
    for (int64_t t = 0; t < steps_; ++t) {
      for (int64_t i = 0; i < k; ++i) {  // r = Xw − y
        const double* xi = ctx.x + i * d;
        double s = 0.0;
        for (int64_t j = 0; j < d; ++j) s += xi[j] * w[j];
        r_[i] = s - ctx.y[i];
      }
      for (int64_t i = 0; i < k; ++i) {  // w -= (eta/k) Xᵀr
        const double* xi = ctx.x + i * d;
        const double c = step * r_[i];
        for (int64_t j = 0; j < d; ++j) w[j] -= c * xi[j];
      }
    }
    return;
  }
  g_.assign(d * d + 2 * d, 0.0);
  double* G = g_.data();
  double* c = G + d * d;
  double* grad = c + d;
  for (int64_t i = 0; i < k; ++i) {
    const double* xi = ctx.x + i * d;
    for (int64_t p = 0; p < d; ++p) {
      c[p] += xi[p] * ctx.y[i];
      for (int64_t q = 0; q < d; ++q) G[p * d + q] += xi[p] * xi[q];
    }
  }
  for (int64_t t = 0; t < steps_; ++t) {
    for (int64_t p = 0; p < d; ++p) {  // grad = G w − c
      const double* gp = G + p * d;
      double s = -c[p];
      for (int64_t q = 0; q < d; ++q) s += gp[q] * w[q];
      grad[p] = s;
    }
    for (int64_t p = 0; p < d; ++p) w[p] -= step * grad[p];
  }
}

double GradientDescent::operator()(const IclContext& ctx, const double* x_query) {
  if (ctx.k == 0) return 0.0;
  w_.resize(ctx.d);
  fit(ctx, w_.data());
  double s = 0.0;
  for (int64_t j = 0; j < ctx.d; ++j) s += w_[j] * x_query[j];
  return s;
}

std::vector<double> gd_default_eta_grid() {
  std::vector<double> g;
  for (int i = 0; i <= 16; ++i) g.push_back(std::pow(10.0, -3.0 + i / 4.0));
  return g;
}

GdTuneResult tune_gd_step_size(int64_t steps, const IclLinearConfig& cfg, int64_t n_prompts, uint64_t seed,
                               std::span<const double> grid) {
  XF_CHECK(n_prompts > 0, "tune_gd_step_size: n_prompts must be positive, got ", n_prompts);
  Generator gen(seed);
  return tune_gd_step_size(steps, sample_icl_linear(n_prompts, cfg.n_points, cfg.d, cfg.d, cfg.noise_std, gen),
                           grid);
}

GdTuneResult tune_gd_step_size(int64_t steps, const IclBatch& b, std::span<const double> grid) {
  check_defined(b.xs, "tune_gd_step_size");
  check_defined(b.ys, "tune_gd_step_size");
  XF_CHECK(b.xs.dim() == 3 && b.ys.dim() == 2 && b.xs.size(0) == b.ys.size(0) && b.xs.size(1) == b.ys.size(1),
           "tune_gd_step_size: expected xs [P, n, d] and ys [P, n], got xs ", b.xs.shape().str(), " and ys ",
           b.ys.shape().str());
  GdTuneResult res;
  if (grid.empty()) {
    res.grid = gd_default_eta_grid();
  } else {
    res.grid.assign(grid.begin(), grid.end());
    std::sort(res.grid.begin(), res.grid.end());
  }
  const std::vector<double> xs = b.xs.to_vector(), ys = b.ys.to_vector();
  const int64_t n = b.xs.size(1), d = b.xs.size(2), P = b.xs.size(0);
  const double inf = std::numeric_limits<double>::infinity();
  for (double eta : res.grid) {
    std::vector<double> per_prompt(P, 0.0);
    parallel_for(P, 64, [&](int64_t p0, int64_t p1) {
      GradientDescent gd(steps, eta);
      for (int64_t p = p0; p < p1; ++p) {
        const double* x = xs.data() + p * n * d;
        const double* y = ys.data() + p * n;
        double acc = 0.0;
        for (int64_t k = 1; k < n; ++k) {
          const double e = gd(IclContext{x, y, k, d}, x + k * d) - y[k];
          acc += std::isfinite(e) ? e * e / static_cast<double>(d) : inf;
        }
        per_prompt[p] = acc;
      }
    });
    double total = 0.0;
    for (double v : per_prompt) total += v;  // fixed order: independent of the thread count
    const int64_t count = P * std::max<int64_t>(n - 1, 1);
    res.error.push_back(std::isfinite(total) ? total / static_cast<double>(count) : inf);
  }
  size_t best = 0;
  for (size_t i = 1; i < res.grid.size(); ++i)
    if (res.error[i] < res.error[best]) best = i;
  res.eta = res.grid[best];
  return res;
}

}  // namespace xfmr
