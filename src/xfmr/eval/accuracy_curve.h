// Accuracy against the number of in-context examples, for the Boolean function classes (Bhattamishra et al.
// 2023, whose metric is the accuracy of sign(prediction) against ±1 labels, averaged over prompts at every k).
// Same summary as error_curve.h (mean per k, percentile-bootstrap band), on per-prompt correctness scores.
#pragma once
#include "xfmr/baselines/context.h"
#include "xfmr/core/tensor.h"
#include "xfmr/eval/error_curve.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

// Correctness [P, n] f64 of predictions [P, n] (any float dtype/layout) against ys [P, n] in {±1}: 1 when
// sign(prediction) = y, 0 when it is the other sign, and 1/2 when the prediction is exactly 0 (a tie: the
// expected score of a coin flip; the baselines answer 0 when they have no information, e.g. at k = 0).
Tensor sign_correct(const Tensor& predictions, const Tensor& ys);

// The accuracy curve of a predictor (or of precomputed predictions [P, n]) on prompts.
ErrorCurve accuracy_vs_k(const IclPredictor& predictor, const IclBatch& prompts, const BootstrapOptions& opt = {});
ErrorCurve accuracy_vs_k(const Tensor& predictions, const IclBatch& prompts, const BootstrapOptions& opt = {});

// The training loss of the Boolean classes: mean log(1 + exp(−y·z)) over logits z [B, n] and labels y [B, n] in
// {±1}: binary cross-entropy of sigmoid(z) against (y + 1)/2, as the paper's code trains (sigmoid + BCELoss).
// Differentiable in z.
Tensor logistic_loss(const Tensor& logits, const Tensor& ys);

}  // namespace xfmr
