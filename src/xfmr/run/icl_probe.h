// Probes of a trained `xfmr icl` run: what the layers compute, in the terms of three papers.
//
// (a) Per-layer linear read-out (Akyürek et al. 2023, "What learning algorithm is in-context learning?", §4.1
//     probing): for every layer's hidden state at the x positions (the token that predicts y_{k+1}), a ridge map
//     h -> y is fitted on prompts A (all k pooled, with a bias) and its error (ŷ − y)²/norm is measured per k on
//     separate prompts B.
// (b) Algorithm matching (Fu et al. 2023, "Transformers Learn Higher-Order Optimization Methods for In-Context
//     Learning", §4): for each layer's read-out predictions, the number of gradient-descent steps and of Iterative
//     Newton iterations whose predictions best match it. Their "similarity of errors": per prompt the cosine
//     between the residual vectors (ŷ_k − y_k)_{k=1..n−1} of the two predictors, averaged over prompts; the best
//     match is the step count of highest similarity. GD uses one step size, tuned on prompts A for
//     eval.gd_steps steps; Newton is baselines/iterative_newton.h (iteration 0 is M_0 = αS).
// (c) Prediction agreement per k (Akyürek et al. 2023, §3, "ILWD"/similarity of predictions): the cosine between
//     the model's final predictions and each baseline's, over prompts B, at every k (null where either is zero).
//
// `xfmr icl probe --run DIR` loads DIR/config.json and the newest checkpoint, writes DIR/probes.json, adds the
// summary to DIR/results.json ("probes", and an HTML section under "sections") and rewrites DIR/report.html.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "xfmr/run/icl.h"

namespace xfmr {

struct IclProbeOptions {
  int64_t prompts = 1000;       // prompts A (fit) and, as many again, prompts B (evaluation)
  double ridge = 1e-4;          // read-out regulariser, relative to the mean diagonal of FᵀF
  int64_t max_gd_steps = 256;   // GD step counts tried: 1, 2, 3, 4, 6, 8, 12, ... up to this
  int64_t max_newton = 16;      // Newton iterations tried: 0 .. max_newton
  uint64_t seed = 777;          // prompts A use seed, prompts B seed + 1 (never the training or eval seeds)
  void validate() const;
};

// Runs the probes on a model (any kind; lsa has no exposed hidden states, so (a) and the per-layer part of (b)
// cover only its output). Returns probes.json's content.
nlohmann::json icl_probes(const IclConfig& cfg, const IclModel& model, const IclProbeOptions& opt);

// The probe job on a finished run folder (see above). Returns probes.json's content.
nlohmann::json probe_icl_run(const std::string& run_dir, const IclProbeOptions& opt, const std::string& command);

// The HTML section (charts and a table) that report.html shows for probes.json's content.
std::string render_probe_section(const nlohmann::json& probes);

}  // namespace xfmr
