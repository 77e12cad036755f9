// Greedy regression trees (CART, Breiman et al. 1984) and the decision-tree baseline of Garg et al. 2022 (§4,
// Fig. 5: "greedy tree learning" with a depth limit, as scikit-learn's DecisionTreeRegressor).
//
// Growing: a node holding points I is split on the (feature f, threshold t) that minimises the summed squared
// error of the two sides Σ_{i∈I, x_if ≤ t}(y_i − ȳ_L)² + Σ_{x_if > t}(y_i − ȳ_R)², over every feature and every
// threshold halfway between two consecutive distinct values of x_f in I. A node becomes a leaf (predicting the
// mean of its y) at max_depth, with fewer than 2 points, when no split separates its points, or when the best
// split does not lower the error. Ties go to the lower feature index, then the lower threshold, so the tree is a
// deterministic function of the data. With distinct inputs and no depth limit the tree interpolates.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

class RegressionTree {
 public:
  struct Node {
    int64_t feature = -1;  // -1: leaf
    double threshold = 0.0;
    int32_t left = -1, right = -1;
    double value = 0.0;    // leaf: mean of y
  };

  explicit RegressionTree(int64_t max_depth = 4);
  // x: [k, d] row-major, y: [k]. k = 0 gives a single leaf predicting 0.
  void fit(const double* x, const double* y, int64_t k, int64_t d);
  double predict(const double* x) const;  // x: [d]
  const std::vector<Node>& nodes() const { return nodes_; }
  int64_t depth() const;  // depth of the fitted tree (a single leaf: 0)

 private:
  int32_t grow(int64_t begin, int64_t end, int64_t depth);
  int64_t max_depth_;
  const double* x_ = nullptr;
  const double* y_ = nullptr;
  int64_t d_ = 0;
  std::vector<Node> nodes_;
  std::vector<int64_t> idx_, tmp_;
};

// The in-context predictor: fits a RegressionTree(max_depth) to the context and predicts at the query.
class GreedyTree {
 public:
  explicit GreedyTree(int64_t max_depth = 4) : tree_(max_depth) {}
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  RegressionTree tree_;
};

}  // namespace xfmr
