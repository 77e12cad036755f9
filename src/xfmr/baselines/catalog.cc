#include "xfmr/baselines/catalog.h"

#include "xfmr/baselines/averaging.h"
#include "xfmr/baselines/boosted_trees.h"
#include "xfmr/baselines/elimination.h"
#include "xfmr/baselines/gf2_parity.h"
#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/baselines/iterative_newton.h"
#include "xfmr/baselines/knn.h"
#include "xfmr/baselines/lasso.h"
#include "xfmr/baselines/least_squares.h"
#include "xfmr/baselines/majority_label.h"
#include "xfmr/baselines/parity_search.h"
#include "xfmr/baselines/perceptron.h"
#include "xfmr/baselines/regression_tree.h"
#include "xfmr/baselines/relu_net.h"
#include "xfmr/baselines/ridge.h"
#include "xfmr/core/check.h"

namespace xfmr {

const std::vector<std::string>& icl_baseline_names() {
  static const std::vector<std::string> names = {"least_squares", "ridge",       "knn3",          "averaging",
                                                 "gd",            "lasso",       "newton",        "greedy_tree",
                                                 "boosted_trees", "relu_net",    "zero",
                                                 "elimination", "elimination_dual", "gf2_parity",
                                                 "parity_search", "nn1", "perceptron", "majority_label"};
  return names;
}

IclPredictor make_icl_baseline(const std::string& name, const IclBaselineOptions& opt) {
  if (name == "least_squares") return LeastSquares();
  if (name == "ridge") return Ridge(opt.noise_std * opt.noise_std);
  if (name == "knn3") return NearestNeighbors(opt.knn_neighbors);
  if (name == "averaging") return Averaging();
  if (name == "gd") return GradientDescent(opt.gd_steps, opt.gd_eta);
  if (name == "lasso") return Lasso(opt.lasso_alpha);
  if (name == "newton") return IterativeNewton(opt.newton_iters);
  if (name == "greedy_tree") return GreedyTree(opt.tree_max_depth);
  if (name == "boosted_trees") return BoostedTrees(opt.boost_rounds, opt.boost_depth, opt.boost_lr);
  if (name == "relu_net") return ReluNet(ReluNetOptions{opt.net_hidden, opt.net_steps, opt.net_lr, 0});
  if (name == "elimination") return Elimination(false);
  if (name == "elimination_dual") return Elimination(true);
  if (name == "gf2_parity") return Gf2Parity();
  if (name == "parity_search") return ParitySearch(opt.parity_k);
  if (name == "nn1") return NearestNeighbors(1);
  if (name == "perceptron") return Perceptron(opt.perceptron_epochs);
  if (name == "majority_label") return MajorityLabel();
  if (name == "zero") return [](const IclContext&, const double*) { return 0.0; };
  std::string known;
  for (const std::string& n : icl_baseline_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("icl: unknown baseline '" + name + "' (known: " + known + ")");
}

std::string icl_baseline_label(const std::string& name, const IclBaselineOptions& opt) {
  if (name == "gd") return "gd" + std::to_string(opt.gd_steps);
  if (name == "newton") return "newton" + std::to_string(opt.newton_iters);
  return name;
}

}  // namespace xfmr
