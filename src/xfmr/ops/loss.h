// Losses, reduced to a scalar mean.
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

// logits: [N, C] or [..., C] (classes in the LAST dim), targets: i64 (or i32) [N] / [...] -> scalar [].
// Mean over the targets != ignore_index of  (1 - ε)·(-log p[t]) + ε·mean_c(-log p[c]),  p = softmax(logits)
// (torch.nn.functional.cross_entropy semantics with label_smoothing ε; with every target ignored the mean is
// 0/0 = NaN, as in torch, and the gradient is zero). Fused: the forward saves one log-sum-exp per row and the
// backward writes (p - (1-ε)·onehot - ε/C)·g/n_valid straight into the gradient, never storing p separately.
// A target outside [0, C) that is not ignore_index is an Error naming the target, C and the row.
// Note: for rank > 2, torch puts the classes in dim 1; xfmr keeps them last (the transformer layout [B, T, V]).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);

// pred, target: the same shape (Error otherwise), same float dtype -> scalar mean((pred - target)²).
// Gradients flow to both inputs.
Tensor mse_loss(const Tensor& pred, const Tensor& target);

}  // namespace xfmr
