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
#include "xfmr/run/icl_model.h"
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
  template <class V>
  void visit(V& v) {
    v("kind", kind, "function class: linear | noisy_linear | sparse_linear | ill_conditioned_linear | "
                    "decision_tree | relu2nn (xfmr icl --list)");
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
  }
  IclTaskParams params() const { return {kind, noise_std, sparsity, kappa, tree_depth, hidden}; }
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
  }
  void validate() const;
};

// The model (run/icl_model.h lists the kinds): "gpt" (Garg et al.'s GPT-2 decoder, the IclTransformerConfig
// fields), "lsa" (linear self-attention only, von Oswald et al. 2023; uses n_layer and n_head), "looped" /
// "algoformer" (Yang et al. 2023 / Gao et al. 2024; also the IclLoopSettings fields) or "lstm" (n_layer, n_embd).
struct IclModelSettings : models::IclTransformerConfig, IclLoopSettings {
  std::string kind = "gpt";
  template <class V>
  void visit(V& v) {
    v("kind", kind, "gpt | lsa | looped | algoformer | lstm (docs/ICL_MODELS.md)");
    models::IclTransformerConfig::visit(v);
    IclLoopSettings::visit(v);
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
