// Dropout (Srivastava et al. 2014, "Dropout: a simple way to prevent neural networks from overfitting"), in
// the "inverted" form: kept activations are scaled by 1/(1-p) at training time so evaluation is the identity.
#pragma once
#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"

namespace xfmr {

// x: any shape, f32/f64 -> same shape. Training: each element is kept with probability 1-p and scaled by
// 1/(1-p), else zeroed. Identity (returns x itself) when !training or p == 0. p must lie in [0, 1).
// The keep mask comes from bernoulli_ on `gen` (counter-based Philox), so a seed gives the same mask for any
// thread count; the draw advances gen by ceil(numel/4) blocks. Backward multiplies by the same scaled mask.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace xfmr
