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
const IclTaskParamInfo kPlant{"plant_rate", "probability a point is planted to (dis)satisfy the formula "
                                            "(default: the paper's)"};
const IclTaskParamInfo kTeach{"teaching", "true: prepend the paper's teaching sequence (default false)"};
const IclTaskParamInfo kClauses{"n_clauses", "terms / clauses of the formula, 1..64 (default 3)"};
const IclTaskParamInfo kRelevant{"n_relevant", "relevant bits, 1..d (default 0 = the paper's)"};

constexpr IclMetric kAcc = IclMetric::accuracy;
}  // namespace

IclBooleanParams icl_boolean_params(const IclTaskParams& p) {
  return {p.kind, p.n_relevant, p.n_clauses, p.plant_rate, p.teaching, p.nn_random_points};
}

const std::vector<IclTaskClass>& icl_task_classes() {
  static const std::vector<IclTaskClass> classes = {
      {"linear", "y = w·x, w, x ~ N(0, I_d) (Garg et al. 2022, §3)", {kNoise},
       {"least_squares", "ridge", "knn3", "averaging", "gd"}, norm_d, IclMetric::squared_error},
      {"noisy_linear", "y = w·x + noise_std·N(0, 1), w, x ~ N(0, I_d); needs noise_std > 0 (Garg et al. App.)",
       {kNoise}, {"least_squares", "ridge", "knn3", "averaging", "gd"}, norm_d, IclMetric::squared_error},
      {"sparse_linear", "y = w·x, w with `sparsity` N(0, 1) coordinates at uniform positions (Garg et al. §4)",
       {{"sparsity", "non-zero coordinates of w, 1..d (default 3)"}, kNoise},
       {"least_squares", "lasso", "knn3", "averaging"}, norm_sparse, IclMetric::squared_error},
      {"ill_conditioned_linear",
       "y = w·x, x ~ N(0, UΛUᵀ), Λ log-spaced 1..1/kappa with trace d, fresh random U per prompt (Fu et al. 2023)",
       {{"kappa", "condition number of the x covariance, >= 1 (default 100)"}, kNoise},
       {"least_squares", "newton", "gd", "knn3", "averaging"}, norm_d, IclMetric::squared_error},
      {"decision_tree",
       "y = leaf of a depth-`tree_depth` binary tree testing x_j > 0 on random coordinates, leaves ~ N(0, 1) "
       "(Garg et al. §4)",
       {{"tree_depth", "depth of the random tree, 1..16 (default 4)"}},
       {"least_squares", "knn3", "averaging", "greedy_tree", "boosted_trees"}, norm_one, IclMetric::squared_error},
      {"relu2nn", "y = Σ_i a_i relu(w_i·x), `hidden` units, w_i ~ N(0, I_d), a_i ~ N(0, 2/hidden) (Garg et al. §4)",
       {{"hidden", "hidden units of the random network, >= 1 (default 100)"}},
       {"least_squares", "knn3", "averaging", "relu_net"}, norm_d, IclMetric::squared_error},
      {"fixed_representation",
       "y = w·Φ(x) + noise_std·N(0, 1), Φ a fixed random ReLU net (phi_depth layers of width phi_width, seeded by "
       "phi_seed) shared by all prompts, w ~ N(0, I_D) per prompt (Guo et al. 2023)",
       {{"phi_depth", "layers of Φ, 1..16 (default 2)"},
        {"phi_width", "width D of Φ, 1..4096 (default 20)"},
        {"phi_seed", "seed of Φ's weights (default 1234)"},
        kNoise},
       {"ridge_phi", "least_squares", "knn3", "averaging"}, norm_phi, IclMetric::squared_error},
      {"mixture",
       "each prompt from one class of task.mixture, chosen per prompt by weight (Yadlowsky et al. 2023); the "
       "baselines are every component's",
       {{"mixture", "kind:weight,... e.g. linear:0.5,relu2nn:0.5 (components read their own task.* keys)"}},
       {}, norm_mixture, IclMetric::squared_error},
      // Boolean classes, x ∈ {±1}^d, y ∈ {±1} (Bhattamishra et al. 2023, Table 1; tasks/icl_boolean.h).
      {"conjunction",
       "y = AND of literals, each bit a literal w.p. 0.3 (half negated); 30% of points planted positive "
       "(Bhattamishra et al. 2023)",
       {kPlant, kTeach}, {"elimination", "nn1", "averaging", "majority_label"}, norm_one, kAcc},
      {"disjunction", "y = OR of literals, each bit a literal w.p. 0.3 (half negated); 30% of points planted negative",
       {kPlant, kTeach}, {"elimination_dual", "nn1", "averaging", "majority_label"}, norm_one, kAcc},
      {"sparse_disjunction", "y = OR of n_relevant (paper: 4) positive literals; 30% of points planted negative",
       {kRelevant, kPlant}, {"elimination_dual", "nn1", "averaging", "majority_label"}, norm_one, kAcc},
      {"cnf", "y = AND of n_clauses (3) clauses, literals w.p. 0.2 per bit; one clause falsified in 30% of points",
       {kClauses, kPlant}, {"nn1", "averaging", "perceptron", "majority_label"}, norm_one, kAcc},
      {"dnf", "y = OR of n_clauses (3) terms, literals w.p. 0.2 per bit; one term satisfied in 35% of points "
              "(teaching: monotone terms, as the paper)",
       {kClauses, kPlant, kTeach}, {"nn1", "averaging", "perceptron", "majority_label"}, norm_one, kAcc},
      {"sparse_parity", "y = parity of n_relevant (paper: 2 or 3) random bits, x uniform",
       {kRelevant}, {"gf2_parity", "parity_search", "nn1", "majority_label"}, norm_one, kAcc},
      {"parity", "y = parity of a uniformly random subset of the d bits, x uniform", {},
       {"gf2_parity", "nn1", "majority_label"}, norm_one, kAcc},
      {"majority", "y = +1 iff more than half of the d bits are 1 (ties -1), x uniform", {},
       {"perceptron", "averaging", "nn1", "majority_label"}, norm_one, kAcc},
      {"sparse_majority", "y = majority of a random subset (each bit w.p. 0.3; the paper's 'majority'), x uniform",
       {}, {"perceptron", "averaging", "nn1", "majority_label"}, norm_one, kAcc},
      {"int_halfspace", "y = sign(w·x - 0.5), w uniform in {-3..3}^d, x uniform", {},
       {"perceptron", "averaging", "nn1", "majority_label"}, norm_one, kAcc},
      {"nearest_neighbour",
       "the first nn_random_points labels are coin flips, every later point takes the label of its most similar "
       "earlier point",
       {{"nn_random_points", "randomly labelled prefix, 1..n_points (default 10)"}},
       {"nn1", "averaging", "majority_label"}, norm_one, kAcc},
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

const char* icl_metric_name(IclMetric m) { return m == IclMetric::accuracy ? "accuracy" : "squared_error"; }

void validate_icl_task(const IclTaskParams& p, int64_t d, int64_t n_points) {
  icl_task_class(p.kind);  // unknown kinds
  if (icl_is_boolean_kind(p.kind)) {
    validate_icl_boolean(icl_boolean_params(p), d, n_points);
  } else {
    XF_CHECK(!p.teaching, "task.teaching=true: task.kind=", p.kind, " has no teaching sequence (defined for ",
             "conjunction, disjunction, dnf)");
  }
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
  std::vector<std::string> out;
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
  if (icl_is_boolean_kind(p.kind))
    return sample_icl_boolean(icl_boolean_params(p), batch, n_points, d, std::max<int64_t>(active_dims, 1), gen);
  icl_task_class(p.kind);  // throws with the known names
  throw Error("sample_icl_task: unhandled kind '" + p.kind + "'");
}

}  // namespace xfmr
