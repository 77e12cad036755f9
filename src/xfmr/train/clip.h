// Gradient-norm clipping (Pascanu et al. 2013, "On the difficulty of training recurrent neural networks",
// §3.2), with torch.nn.utils.clip_grad_norm_'s semantics for the L2 norm:
//   norm = sqrt(sum over every grad element of g^2)       (accumulated in double)
//   coef = max_norm / (norm + 1e-6); if coef < 1, every grad *= coef (in place)
// Parameters whose grad is undefined are ignored. Returns the norm before clipping.
//
// One deliberate difference: when the norm is inf or NaN the grads are left untouched (torch would multiply
// them by 0 or NaN); the caller sees the non-finite norm and can skip the step.
//
// Deterministic: the sum is split into blocks whose boundaries depend only on each tensor's size, so the
// result is bit-identical for any thread count. No heap allocation: build the parameter vector once, outside
// the loop.
#pragma once
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr {

// The global L2 norm of the gradients of `params` (0 when none has a gradient).
double grad_norm(const std::vector<Tensor>& params);
// Scales the gradients so that their global L2 norm is at most max_norm (>= 0); returns the pre-clip norm.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace xfmr
