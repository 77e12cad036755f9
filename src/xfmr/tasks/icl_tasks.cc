#include "xfmr/tasks/icl_tasks.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"
#include "xfmr/tasks/icl_linear_variants.h"
#include "xfmr/tasks/icl_mixture.h"
#include "xfmr/tasks/icl_nonlinear.h"
#include "xfmr/tasks/icl_representation.h"

namespace xfmr {

namespace {
int64_t norm_d(const IclTaskParams&, int64_t d) { return d; }
int64_t norm_sparse(const IclTaskParams& p, int64_t d) { return std::min(p.sparsity, d); }
int64_t norm_one(const IclTaskParams&, int64_t) { return 1; }
int64_t norm_phi(const IclTaskParams& p, int64_t) { return p.phi_width; }
// A mixture's prompts have different scales; its errors are divided by the weighted mean of its components'
// normalisers (rounded, at least 1).
int64_t norm_mixture(const IclTaskParams& p, int64_t d) {
  double s = 0;
  for (const IclMixtureComponent& c : parse_icl_mixture(p.mixture)) {
    IclTaskParams q = p;
    q.kind = c.kind;
    s += c.weight * static_cast<double>(icl_task_class(c.kind).error_normalizer(q, d));
  }
  return std::max<int64_t>(1, std::llround(s));
}

const IclTaskParamInfo kNoise{"noise_std", "label noise standard deviation (default 0)"};
}  // namespace

const std::vector<IclTaskClass>& icl_task_classes() {
  static const std::vector<IclTaskClass> classes = {
      {"linear", "y = w·x, w, x ~ N(0, I_d) (Garg et al. 2022, §3)", {kNoise},
       {"least_squares", "ridge", "knn3", "averaging", "gd"}, norm_d},
      {"noisy_linear", "y = w·x + noise_std·N(0, 1), w, x ~ N(0, I_d); needs noise_std > 0 (Garg et al. App.)",
       {kNoise}, {"least_squares", "ridge", "knn3", "averaging", "gd"}, norm_d},
      {"sparse_linear", "y = w·x, w with `sparsity` N(0, 1) coordinates at uniform positions (Garg et al. §4)",
       {{"sparsity", "non-zero coordinates of w, 1..d (default 3)"}, kNoise},
       {"least_squares", "lasso", "knn3", "averaging"}, norm_sparse},
      {"ill_conditioned_linear",
       "y = w·x, x ~ N(0, UΛUᵀ), Λ log-spaced 1..1/kappa with trace d, fresh random U per prompt (Fu et al. 2023)",
       {{"kappa", "condition number of the x covariance, >= 1 (default 100)"}, kNoise},
       {"least_squares", "newton", "gd", "knn3", "averaging"}, norm_d},
      {"decision_tree",
       "y = leaf of a depth-`tree_depth` binary tree testing x_j > 0 on random coordinates, leaves ~ N(0, 1) "
       "(Garg et al. §4)",
       {{"tree_depth", "depth of the random tree, 1..16 (default 4)"}},
       {"least_squares", "knn3", "averaging", "greedy_tree", "boosted_trees"}, norm_one},
      {"relu2nn", "y = Σ_i a_i relu(w_i·x), `hidden` units, w_i ~ N(0, I_d), a_i ~ N(0, 2/hidden) (Garg et al. §4)",
       {{"hidden", "hidden units of the random network, >= 1 (default 100)"}},
       {"least_squares", "knn3", "averaging", "relu_net"}, norm_d},
      {"fixed_representation",
       "y = w·Φ(x) + noise_std·N(0, 1), Φ a fixed random ReLU net (phi_depth layers of width phi_width, seeded by "
       "phi_seed) shared by all prompts, w ~ N(0, I_D) per prompt (Guo et al. 2023)",
       {{"phi_depth", "layers of Φ, 1..16 (default 2)"},
        {"phi_width", "width D of Φ, 1..4096 (default 20)"},
        {"phi_seed", "seed of Φ's weights (default 1234)"},
        kNoise},
       {"ridge_phi", "least_squares", "knn3", "averaging"}, norm_phi},
      {"mixture",
       "each prompt from one class of task.mixture, chosen per prompt by weight (Yadlowsky et al. 2023); the "
       "baselines are every component's",
       {{"mixture", "kind:weight,... e.g. linear:0.5,relu2nn:0.5 (components read their own task.* keys)"}},
       {"least_squares", "knn3", "averaging"}, norm_mixture},  // + the components' (icl_task_baselines)
  };
  return classes;
}

const IclTaskClass& icl_task_class(const std::string& kind) {
  std::string known;
  for (const IclTaskClass& c : icl_task_classes()) {
    if (c.name == kind) return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  throw Error("task.kind: unknown function class '" + kind + "' (known: " + known + ")");
}

bool icl_task_is_isotropic_linear(const std::string& kind) { return kind == "linear" || kind == "noisy_linear"; }

void validate_icl_task(const IclTaskParams& p, int64_t d, int64_t n_points) {
  icl_task_class(p.kind);  // unknown kinds
  (void)n_points;
  XF_CHECK(p.noise_std >= 0 && std::isfinite(p.noise_std), "task.noise_std must be finite and >= 0, got ",
           p.noise_std);
  if (p.kind == "noisy_linear")
    XF_CHECK(p.noise_std > 0, "task.noise_std must be > 0 for task.kind=noisy_linear (got 0; use task.kind=linear ",
             "for noiseless prompts)");
  if (p.kind == "sparse_linear")
    XF_CHECK(p.sparsity >= 1 && p.sparsity <= d, "task.sparsity must be in [1, d = ", d, "] (w has that many ",
             "non-zero coordinates out of d), got ", p.sparsity);
  if (p.kind == "ill_conditioned_linear")
    XF_CHECK(p.kappa >= 1 && std::isfinite(p.kappa), "task.kappa must be a finite condition number >= 1, got ",
             p.kappa);
  if (p.kind == "decision_tree")
    XF_CHECK(p.tree_depth >= 1 && p.tree_depth <= 16, "task.tree_depth must be in [1, 16] (a depth-D tree has ",
             "2^D leaves, each drawn per prompt), got ", p.tree_depth);
  if (p.kind == "relu2nn")
    XF_CHECK(p.hidden >= 1 && p.hidden <= 100000, "task.hidden must be in [1, 100000], got ", p.hidden);
  if (p.kind == "fixed_representation") {
    XF_CHECK(p.phi_depth >= 1 && p.phi_depth <= 16, "task.phi_depth must be in [1, 16], got ", p.phi_depth);
    XF_CHECK(p.phi_width >= 1 && p.phi_width <= 4096, "task.phi_width must be in [1, 4096], got ", p.phi_width);
  }
  if (p.kind == "mixture")
    for (const IclMixtureComponent& c : parse_icl_mixture(p.mixture)) {
      IclTaskParams q = p;
      q.kind = c.kind;
      validate_icl_task(q, d, n_points);
    }
}

std::vector<std::string> icl_task_baselines(const IclTaskParams& p) {
  if (p.kind != "mixture") return icl_task_class(p.kind).baselines;
  std::vector<std::string> out = icl_task_class("mixture").baselines;
  for (const IclMixtureComponent& c : parse_icl_mixture(p.mixture))
    for (const std::string& b : icl_task_class(c.kind).baselines)
      if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
  return out;
}

IclBatch sample_icl_task(const IclTaskParams& p, int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                         Generator& gen) {
  if (icl_task_is_isotropic_linear(p.kind))
    return sample_icl_linear(batch, n_points, d, active_dims, p.noise_std, gen);
  if (p.kind == "sparse_linear")
    return sample_icl_sparse_linear(batch, n_points, d, active_dims, p.sparsity, p.noise_std, gen);
  if (p.kind == "ill_conditioned_linear")
    return sample_icl_ill_conditioned_linear(batch, n_points, d, active_dims, p.kappa, p.noise_std, gen);
  if (p.kind == "decision_tree") return sample_icl_decision_tree(batch, n_points, d, active_dims, p.tree_depth, gen);
  if (p.kind == "relu2nn") return sample_icl_relu2nn(batch, n_points, d, active_dims, p.hidden, gen);
  if (p.kind == "fixed_representation")
    return sample_icl_fixed_representation(batch, n_points, d, active_dims,
                                           IclRepresentation(d, p.phi_width, p.phi_depth, p.phi_seed), p.noise_std,
                                           gen);
  if (p.kind == "mixture") return sample_icl_mixture(p, batch, n_points, d, active_dims, gen);
  icl_task_class(p.kind);  // throws with the known names
  throw Error("sample_icl_task: unhandled kind '" + p.kind + "'");
}

}  // namespace xfmr
