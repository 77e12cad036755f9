// The Lasso (Tibshirani 1996) as an in-context learner for sparse linear regression (Garg et al. 2022, §4, Fig. 4:
// the baseline for sparse w). Minimises, in scikit-learn's scaling (the one Garg et al. used),
//   L(w) = (1/(2k))‖y − Xw‖² + alpha·‖w‖₁,
// by cyclic coordinate descent (Friedman, Hastie & Tibshirani 2007/2010): with the partial residual
// r_j = y − Σ_{l≠j} x_l w_l, the exact minimiser over w_j is
//   w_j = S((1/k) x_jᵀ r_j, alpha) / ((1/k)‖x_j‖²),   S(z, t) = sign(z)·max(|z| − t, 0)  (soft-thresholding).
// Sweeps stop when no coordinate moved by more than tol·max(1, max|w|) in a sweep, or after max_sweeps. The
// objective is convex, so the fixed point satisfies the KKT conditions: (1/k)x_jᵀ(y − Xw) = alpha·sign(w_j) where
// w_j ≠ 0 and |(1/k)x_jᵀ(y − Xw)| ≤ alpha where w_j = 0. Starting from w = 0 makes the result deterministic; an
// all-zero column keeps w_j = 0. Empty context -> 0.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class Lasso {
 public:
  explicit Lasso(double alpha, int64_t max_sweeps = 10000, double tol = 1e-12);
  double alpha() const { return alpha_; }
  // w: [ctx.d]; returns the number of sweeps done.
  int64_t fit(const IclContext& ctx, double* w);
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  double alpha_;
  int64_t max_sweeps_;
  double tol_;
  std::vector<double> w_, r_, col_sq_;
};

// S(z, t) = sign(z)·max(|z| − t, 0).
double soft_threshold(double z, double t);

}  // namespace xfmr
