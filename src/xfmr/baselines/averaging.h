// The averaging estimator (Garg et al. 2022, §3 "Averaging"): w_hat = (1/k) Σ_i y_i x_i, predicting w_hat·x. For
// x ~ N(0, I) it is an unbiased estimate of w (E[y x] = E[x xᵀ] w = w), without inverting XᵀX. Empty context -> 0.
#pragma once
#include "xfmr/baselines/context.h"

namespace xfmr {

struct Averaging {
  double operator()(const IclContext& ctx, const double* x_query) const;
};

}  // namespace xfmr
