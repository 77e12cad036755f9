// Gradient-boosted regression trees with squared loss (Friedman 2001, "Greedy function approximation"), the
// stand-in for Garg et al. 2022's XGBoost baseline on decision-tree prompts (§4, Fig. 5). A small own
// implementation: F_0 = mean(y); round m fits a RegressionTree(depth) to the residuals r = y − F_{m−1} (the
// negative gradient of ½(y − F)²) and sets F_m = F_{m−1} + learning_rate·tree_m. No subsampling, no L2 leaf
// penalty (XGBoost's defaults differ: λ = 1, its own split gain), so numbers are close to, not equal to, Garg's.
// Because each tree's leaves are residual means, Σ r·tree = Σ tree², so the training squared error after a round
// is ‖r‖² − (2ν − ν²)‖tree‖² ≤ ‖r‖² for 0 < ν ≤ 1: it never increases. Empty context -> 0.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"
#include "xfmr/baselines/regression_tree.h"

namespace xfmr {

class BoostedTrees {
 public:
  BoostedTrees(int64_t rounds = 100, int64_t depth = 3, double learning_rate = 0.1);
  // x: [k, d] row-major, y: [k]. Records the training mean squared error after each round (train_mse()[0] is
  // that of F_0) and the training predictions F_rounds (train_predictions()).
  void fit(const double* x, const double* y, int64_t k, int64_t d);
  double predict(const double* x) const;  // F_0 + ν Σ_m tree_m(x)
  const std::vector<double>& train_mse() const { return mse_; }
  const std::vector<double>& train_predictions() const { return f_; }
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  int64_t rounds_, depth_;
  double lr_;
  double base_ = 0.0;
  std::vector<RegressionTree> trees_;
  std::vector<double> f_, r_, mse_;
};

}  // namespace xfmr
