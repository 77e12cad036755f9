// The perceptron (Rosenblatt 1958) with a bias, cycled over the context until a pass makes no mistake or
// `epochs` passes are done (Novikoff: a linearly separable context with margin γ and radius R converges after at
// most (R/γ)² updates). A classical learner for the halfspace classes of Bhattamishra et al. 2023 (Majority,
// Integer halfspaces), whose labels are sign(w·x − 0.5). Predicts sign(w·x + b) in {−1, +1} (0 on an exact tie
// or an empty context).
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class Perceptron {
 public:
  explicit Perceptron(int64_t epochs = 100);
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  int64_t epochs_;
  std::vector<double> w_;
};

}  // namespace xfmr
