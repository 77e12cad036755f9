// Normalised squared error against the number of in-context examples, with a bootstrap confidence interval
// (Garg et al. 2022, §3 and Fig. 2: error (ŷ − y)²/d, averaged over prompts; their evaluation reports the 5th and
// 95th percentiles of 1000 bootstrap means). A baseline (a callable) and the transformer (a precomputed
// predictions tensor) go through the same summary, so their curves are comparable point by point.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"
#include "xfmr/core/tensor.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

struct ErrorCurve {
  std::vector<double> mean, lo, hi;  // per k = 0..n−1 (k in-context examples, predicting y_{k+1})
};

struct BootstrapOptions {
  int64_t resamples = 1000;
  double confidence = 0.90;  // central interval: percentiles (1−c)/2 and (1+c)/2 of the resampled means
  uint64_t seed = 0;
};

// Predictions [P, n] f64: entry (p, k) = predictor(first k pairs of prompt p, x_{k+1}). Prompts are evaluated in
// parallel, each thread calling its own copy of the predictor; the result does not depend on the thread count.
Tensor predict_all(const IclPredictor& predictor, const IclBatch& prompts);

// Errors [P, n] f64: (predictions − ys)² / d. predictions: [P, n] any float dtype and layout (e.g. the
// transformer's outputs read at the x positions); ys: [P, n].
Tensor squared_errors(const Tensor& predictions, const Tensor& ys, int64_t d);

// Mean over prompts per column of errors [P, n], and a percentile-bootstrap interval of that mean: each resample
// draws P prompts with replacement (one draw of prompt indices shared by all k, so the curve's points are
// resampled jointly) from Generator(opt.seed).
ErrorCurve summarize_errors(const Tensor& errors, const BootstrapOptions& opt = {});

// The error curve of a predictor on prompts, normalised by d (pass the full dimension, also under a curriculum).
ErrorCurve error_vs_k(const IclPredictor& predictor, const IclBatch& prompts, int64_t d,
                      const BootstrapOptions& opt = {});
// The same from precomputed predictions [P, n] (entry (p, k) predicts y_{k+1} of prompt p from its first k pairs).
ErrorCurve error_vs_k(const Tensor& predictions, const IclBatch& prompts, int64_t d,
                      const BootstrapOptions& opt = {});

}  // namespace xfmr
