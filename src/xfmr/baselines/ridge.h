// Ridge regression, w = (XᵀX + λI)⁻¹Xᵀy, i.e. the posterior mean of w given the context when w ~ N(0, τ²I) and
// y = w·x + N(0, σ²) with λ = σ²/τ². For Garg et al.'s noisy linear regression (w ~ N(0, I), noise σ) the
// Bayes-optimal predictor under squared error is therefore ridge with λ = σ². λ = 0 gives the minimum-norm least
// squares solution (the λ → 0 limit).
//
// Solved as the least-squares problem [X; √λ I] w ≈ [y; 0] (whose normal equations are exactly the ridge system)
// with the orthogonal decomposition of least_squares.h, so XᵀX is never formed.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"
#include "xfmr/baselines/least_squares.h"

namespace xfmr {

class Ridge {
 public:
  explicit Ridge(double lambda);
  double lambda() const { return lambda_; }
  void fit(const IclContext& ctx, double* w);  // w: [ctx.d]; k = 0 gives w = 0
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  double lambda_;
  LstsqScratch s_;
  std::vector<double> w_;
};

}  // namespace xfmr
