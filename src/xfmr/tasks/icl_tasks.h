// The registry of in-context-learning function classes behind `xfmr icl` (task.kind): each class samples
// prompts [B, n, d] x and [B, n] y from a seeded Generator (curriculum-compatible: coordinates >= active_dims are
// zero), validates its parameters with reasons, and names the baselines drawn beside the model (Garg et al. 2022,
// Figs. 2, 4–6). `xfmr icl --list` prints this table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/tasks/icl_boolean.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

// The union of the classes' parameters (each class reads its own; the config keys are task.<name>).
struct IclTaskParams {
  std::string kind = "linear";
  double noise_std = 0.0;   // linear, noisy_linear, sparse_linear, ill_conditioned_linear
  int64_t sparsity = 3;     // sparse_linear: non-zero coordinates of w (Garg et al.: 3)
  double kappa = 100.0;     // ill_conditioned_linear: condition number of the x covariance
  int64_t tree_depth = 4;   // decision_tree (Garg et al.: 4)
  int64_t hidden = 100;     // relu2nn: hidden units (Garg et al.: 100)
  int64_t phi_depth = 2;    // fixed_representation: layers of the fixed ReLU network Φ (Guo et al. 2023)
  int64_t phi_width = 20;   // fixed_representation: width D of Φ (the read-out w has D coordinates)
  uint64_t phi_seed = 1234; // fixed_representation: seed of Φ's weights (the same Φ for every prompt)
  std::string mixture = "linear:0.5,relu2nn:0.5";  // mixture: classes and weights (tasks/icl_mixture.h)
  // The Boolean classes (Bhattamishra et al. 2023; tasks/icl_boolean.h).
  int64_t n_relevant = 0;     // sparse_parity, sparse_disjunction: relevant bits (0 = the paper's 2, 4)
  int64_t n_clauses = 3;      // dnf, cnf: terms / clauses (the paper: 3)
  double plant_rate = -1;     // formula classes: planted-point probability (< 0 = the paper's)
  bool teaching = false;      // conjunction, disjunction, dnf: prepend the teaching sequence
  int64_t nn_random_points = 10;  // nearest_neighbour: randomly labelled prefix
};

// How a class's predictions are scored: squared error normalised by error_normalizer (the regression classes,
// Garg et al.), or accuracy of sign(prediction) against ±1 labels, trained with the logistic loss (the Boolean
// classes, Bhattamishra et al. 2023, whose code trains with sigmoid + binary cross-entropy).
enum class IclMetric { squared_error, accuracy };

struct IclTaskParamInfo {
  std::string key;          // "noise_std" (config key task.<key>)
  std::string description;
};

struct IclTaskClass {
  std::string name;
  std::string description;                 // one line
  std::vector<IclTaskParamInfo> params;    // the parameters this class reads
  std::vector<std::string> baselines;      // names for make_icl_baseline (baselines/catalog.h)
  // The divisor of the reported squared error: E[f(x)²] at full dimension (d for the linear classes and ReLU
  // nets, the sparsity for sparse w, 1 for trees), so the zero predictor scores about 1 for every class.
  int64_t (*error_normalizer)(const IclTaskParams& p, int64_t d);
  IclMetric metric;
};

// All classes, in --list order.
const std::vector<IclTaskClass>& icl_task_classes();
// The class named `kind`, or an Error listing the known names.
const IclTaskClass& icl_task_class(const std::string& kind);

// Checks p for the prompt shape (d, n_points); Error messages name the task.* key and the reason.
void validate_icl_task(const IclTaskParams& p, int64_t d, int64_t n_points);

// Samples `batch` prompts of class p.kind. For kind "linear" and "noisy_linear" this is exactly
// sample_icl_linear(batch, n_points, d, active_dims, p.noise_std, gen) (bit-identical draws).
IclBatch sample_icl_task(const IclTaskParams& p, int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                         Generator& gen);

// The baselines drawn beside the model for p: the class's list, or for a mixture the union of its components'
// lists (in order, each once). Names for make_icl_task_baseline (tasks/icl_task_baselines.h).
std::vector<std::string> icl_task_baselines(const IclTaskParams& p);

// True for the classes whose prompts are linear with isotropic x (linear, noisy_linear): the ones Garg et al.'s
// linear-regression checks and the tuned-GD baseline apply to.
bool icl_task_is_isotropic_linear(const std::string& kind);

// The Boolean-class fields of p (tasks/icl_boolean.h).
IclBooleanParams icl_boolean_params(const IclTaskParams& p);

// "squared_error" or "accuracy" (results.json's "metric").
const char* icl_metric_name(IclMetric m);

}  // namespace xfmr
