// `xfmr icl`: Garg et al. 2022's central experiment. A GPT-2-style decoder is trained on fresh in-context linear
// regression prompts (with their curriculum), then its normalised error (ŷ − y)²/d at every number of in-context
// examples k is measured on held-out prompts beside least squares, ridge, 3-NN, averaging and tuned GD, with 90%
// bootstrap bands. The run folder gets config.json, metrics.jsonl, checkpoints/, results.json and report.html.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "xfmr/models/icl_transformer.h"
#include "xfmr/tasks/icl_tasks.h"
#include "xfmr/train/trainer.h"

namespace xfmr {

struct IclTaskSettings {
  std::string kind = "linear";   // function class (tasks/icl_tasks.h; `xfmr icl --list`)
  int64_t d = 5;                 // input dimension
  int64_t n_points = 11;         // (x, y) pairs per prompt (2d + 1 by default)
  double noise_std = 0.0;        // y = w·x + noise_std·N(0, 1)
  int64_t batch = 64;            // prompts per training step
  bool curriculum = true;        // ramp the active dimensions and the number of points (Garg et al. §3)
  int64_t curriculum_dims_start = 2;
  int64_t curriculum_points_start = 5;
  int64_t curriculum_interval = 1000;  // steps between increments (+1 dim, +2 points)
  int64_t sparsity = 3;          // sparse_linear: non-zero coordinates of w
  double kappa = 100.0;          // ill_conditioned_linear: condition number of the x covariance
  int64_t tree_depth = 4;        // decision_tree: depth of the random trees
  int64_t hidden = 100;          // relu2nn: hidden units of the random networks
  int64_t phi_depth = 2;         // fixed_representation: layers of the fixed ReLU network Φ
  int64_t phi_width = 20;        // fixed_representation: width D of Φ
  uint64_t phi_seed = 1234;      // fixed_representation: seed of Φ (one Φ for all prompts)
  std::string mixture = "linear:0.5,relu2nn:0.5";  // mixture: kind:weight,... (tasks/icl_mixture.h)
  std::string loss_positions = "all";  // "all": every prefix (Garg et al.); "last": the last point only (ZFB)
  // Boolean classes (Bhattamishra et al. 2023; tasks/icl_boolean.h).
  int64_t n_relevant = 0;        // sparse_parity, sparse_disjunction: relevant bits (0 = the paper's)
  int64_t n_clauses = 3;         // dnf, cnf: terms / clauses
  double plant_rate = -1;        // formula classes: planted-point probability (< 0 = the paper's)
  bool teaching = false;         // conjunction, disjunction, dnf: prepend the teaching sequence
  int64_t nn_random_points = 10; // nearest_neighbour: randomly labelled prefix
  template <class V>
  void visit(V& v) {
    v("kind", kind, "function class: linear | noisy_linear | sparse_linear | ill_conditioned_linear | "
                    "decision_tree | relu2nn | the Boolean classes conjunction, parity, ... (xfmr icl --list)");
    v("d", d, "input dimension");
    v("n_points", n_points, "(x, y) pairs per prompt");
    v("noise_std", noise_std, "label noise standard deviation");
    v("batch", batch, "prompts per training step");
    v("curriculum", curriculum, "ramp active dims and points during training");
    v("curriculum_dims_start", curriculum_dims_start, "active dims at step 0");
    v("curriculum_points_start", curriculum_points_start, "points per prompt at step 0");
    v("curriculum_interval", curriculum_interval, "steps between curriculum increments");
    v("sparsity", sparsity, "sparse_linear: non-zero coordinates of w");
    v("kappa", kappa, "ill_conditioned_linear: condition number of the x covariance");
    v("tree_depth", tree_depth, "decision_tree: depth of the random trees");
    v("hidden", hidden, "relu2nn: hidden units of the random networks");
    v("phi_depth", phi_depth, "fixed_representation: layers of the fixed ReLU network");
    v("phi_width", phi_width, "fixed_representation: width of the fixed ReLU network");
    v("phi_seed", phi_seed, "fixed_representation: seed of the fixed network");
    v("mixture", mixture, "mixture: kind:weight,... e.g. linear:0.5,relu2nn:0.5");
    v("loss_positions", loss_positions, "all (every prefix, Garg et al.) | last (only the last point, ZFB)");
    v("n_relevant", n_relevant, "sparse_parity, sparse_disjunction: relevant bits (0 = the paper's 2, 4)");
    v("n_clauses", n_clauses, "dnf, cnf: terms / clauses");
    v("plant_rate", plant_rate, "Boolean formula classes: planted-point probability (-1 = the paper's)");
    v("teaching", teaching, "conjunction, disjunction, dnf: prepend the paper's teaching sequence");
    v("nn_random_points", nn_random_points, "nearest_neighbour: randomly labelled prefix");
  }
  IclTaskParams params() const {
    IclTaskParams p;
    p.kind = kind;
    p.noise_std = noise_std;
    p.sparsity = sparsity;
    p.kappa = kappa;
    p.tree_depth = tree_depth;
    p.hidden = hidden;
    p.phi_depth = phi_depth;
    p.phi_width = phi_width;
    p.phi_seed = phi_seed;
    p.mixture = mixture;
    p.n_relevant = n_relevant;
    p.n_clauses = n_clauses;
    p.plant_rate = plant_rate;
    p.teaching = teaching;
    p.nn_random_points = nn_random_points;
    return p;
  }
  void validate() const;
};

struct IclEvalSettings {
  int64_t prompts = 2000;    // held-out prompts for the error curves
  int64_t bootstrap = 1000;  // bootstrap resamples for the 90% bands
  uint64_t seed = 1000003;   // evaluation prompts' seed (never used for training)
  int64_t gd_steps = 10;     // steps of the gradient-descent baseline (its step size is tuned)
  int64_t eval_prompts_during_training = 256;  // prompts for the periodic eval in metrics.jsonl
  // Baselines of the other function classes (see baselines/catalog.h).
  double lasso_alpha = 0.01;     // sparse_linear: Lasso's L1 weight (scikit-learn scaling)
  int64_t newton_iters = 5;      // ill_conditioned_linear: Newton–Schulz iterations
  int64_t tree_max_depth = 4;    // decision_tree: greedy tree's depth limit
  int64_t boost_rounds = 100;    // decision_tree: boosting rounds
  int64_t boost_depth = 4;       // decision_tree: depth of each boosted tree
  double boost_lr = 0.1;         // decision_tree: boosting shrinkage
  int64_t net_hidden = 100;      // relu2nn: the trained net's hidden units
  int64_t net_steps = 500;       // relu2nn: Adam steps per prompt
  double net_lr = 0.01;          // relu2nn: Adam learning rate
  std::string kind;              // evaluate on this class instead of task.kind ("" = task.kind; same task.* keys)
  std::string extra_baselines;   // comma list added to the class's baselines (e.g. zfb,zfb_prefix), with gap curves
  template <class V>
  void visit(V& v) {
    v("prompts", prompts, "held-out prompts for the final error curves");
    v("bootstrap", bootstrap, "bootstrap resamples for the 90% bands");
    v("seed", seed, "seed of the evaluation prompts");
    v("gd_steps", gd_steps, "steps of the gradient-descent baseline");
    v("eval_prompts_during_training", eval_prompts_during_training, "prompts for the periodic eval");
    v("lasso_alpha", lasso_alpha, "lasso baseline: L1 weight (sparse_linear)");
    v("newton_iters", newton_iters, "iterative-Newton baseline: iterations (ill_conditioned_linear)");
    v("tree_max_depth", tree_max_depth, "greedy-tree baseline: depth limit (decision_tree)");
    v("boost_rounds", boost_rounds, "boosted-trees baseline: rounds (decision_tree)");
    v("boost_depth", boost_depth, "boosted-trees baseline: depth of each tree");
    v("boost_lr", boost_lr, "boosted-trees baseline: shrinkage in (0, 1]");
    v("net_hidden", net_hidden, "relu-net baseline: hidden units (relu2nn)");
    v("net_steps", net_steps, "relu-net baseline: Adam steps on each prompt");
    v("net_lr", net_lr, "relu-net baseline: Adam learning rate");
    v("kind", kind, "evaluate on this function class instead of task.kind (empty: task.kind)");
    v("extra_baselines", extra_baselines, "extra baselines, comma-separated (e.g. zfb,zfb_prefix,ridge_phi)");
  }
  void validate() const;
};

// The model: "gpt" (Garg et al.'s GPT-2 decoder, the IclTransformerConfig fields) or "lsa" (linear self-attention
// only, von Oswald et al. 2023; uses n_layer and n_head, ignores the GPT-only fields).
struct IclModelSettings : models::IclTransformerConfig {
  std::string kind = "gpt";
  template <class V>
  void visit(V& v) {
    v("kind", kind, "gpt (GPT-2 decoder) | lsa (linear self-attention only, von Oswald et al.)");
    models::IclTransformerConfig::visit(v);
  }
};

struct IclConfig {
  IclTaskSettings task;
  IclModelSettings model;
  TrainConfig train;
  IclEvalSettings eval;
  uint64_t seed = 0;  // model initialisation (train.seed drives the training prompts)
  template <class V>
  void visit(V& v) {
    v("task", task, "");
    v("model", model, "");
    v("train", train, "");
    v("eval", eval, "");
    v("seed", seed, "model initialisation seed");
  }
  void validate() const;
};

// Named starting points: "default" (the README's first command: trains in minutes on 2 cores), "paper"
// (Garg et al.'s standard shape: d = 20, 41 points, 12 layers, 8 heads, 256 dims, batch 64, 500k steps) and
// "smoke" (a few hundred steps, for CI). Error listing the names when unknown.
IclConfig icl_preset(const std::string& name);

struct IclProgress {
  std::function<void(const StepInfo&)> on_step;       // every training step
  std::function<void(const std::string&)> on_stage;   // "evaluating baselines", ...
};

// Trains (or resumes) and evaluates; writes the run folder; returns results.json's content.
nlohmann::json run_icl(const IclConfig& cfg, const std::string& run_dir, bool resume, const std::string& command,
                       const IclProgress& progress = {});

}  // namespace xfmr
