// Baselines by name, for the function-class registry (tasks/icl_tasks.h): make_icl_baseline("lasso", opt) etc.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

struct IclBaselineOptions {
  double noise_std = 0.0;       // ridge: lambda = noise_std²
  int64_t knn_neighbors = 3;    // knn3
  int64_t gd_steps = 10;        // gd
  double gd_eta = 0.1;          // gd (tuned by the caller)
  double lasso_alpha = 0.01;    // lasso (scikit-learn scaling, as Garg et al.)
  int64_t newton_iters = 5;     // newton
  int64_t tree_max_depth = 4;   // greedy_tree
  int64_t boost_rounds = 100;   // boosted_trees
  int64_t boost_depth = 4;
  double boost_lr = 0.1;
  int64_t net_hidden = 100;     // relu_net
  int64_t net_steps = 500;
  double net_lr = 0.01;
  int64_t parity_k = 2;         // parity_search: size of the parities enumerated
  int64_t perceptron_epochs = 100;  // perceptron
};

// Known names: least_squares, ridge, knn3, averaging, gd, lasso, newton, greedy_tree, boosted_trees, relu_net,
// zero, and the Boolean classes' learners (Bhattamishra et al. 2023): elimination, elimination_dual,
// gf2_parity, parity_search, nn1 (1-nearest neighbour), perceptron, majority_label. Unknown names: Error listing them.
IclPredictor make_icl_baseline(const std::string& name, const IclBaselineOptions& opt);
const std::vector<std::string>& icl_baseline_names();

// The name under which a baseline's curve is reported: "gd" -> "gd<steps>", "newton" -> "newton<iters>", others
// unchanged.
std::string icl_baseline_label(const std::string& name, const IclBaselineOptions& opt);

}  // namespace xfmr
