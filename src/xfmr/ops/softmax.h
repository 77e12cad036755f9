// Softmax and log-softmax along one dim, numerically stable (the row max is subtracted before exp).
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// x: any shape, dim: any (negative counts from the end) -> same shape.
//   softmax:     y_i = exp(x_i - max) / Σ_j exp(x_j - max)
//   log_softmax: y_i = x_i - max - log Σ_j exp(x_j - max)
// dim = last is the fast path (contiguous rows, parallel over rows); other dims walk strided columns.
// Backward: softmax dx = y·(g - Σ g·y); log_softmax dx = g - exp(y)·Σ g.
Tensor softmax(const Tensor& x, int dim);
Tensor log_softmax(const Tensor& x, int dim);

}  // namespace xfmr
