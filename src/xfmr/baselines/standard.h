// The baseline set drawn beside the transformer in `xfmr icl` (Garg et al. 2022, Fig. 2 plus ridge and GD).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

struct NamedPredictor {
  std::string name;
  IclPredictor predict;
};

struct StandardBaselineOptions {
  double noise_std = 0.0;   // ridge uses the Bayes-optimal lambda = noise_std² (w ~ N(0, I))
  int64_t knn_neighbors = 3;
  int64_t gd_steps = 100;
  double gd_eta = 0.1;      // e.g. from tune_gd_step_size
};

// In order: "least_squares", "ridge" (lambda = noise_std²; equals least squares when noise_std = 0),
// "knn" (k_neighbors), "averaging", "gd" (gd_steps at gd_eta), "zero" (always 0: the error of the trivial
// predictor, 1 for noiseless prompts with w, x ~ N(0, I)).
std::vector<NamedPredictor> standard_baselines(const StandardBaselineOptions& opt = {});

}  // namespace xfmr
