// Differentiable activation functions (f32 and f64), elementwise with PyTorch's definitions. Any shape;
// inputs may be non-contiguous; outputs are fresh contiguous tensors of the input's shape.
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// max(x, 0); gradient 0 at x == 0 (torch). NaN propagates.
Tensor relu(const Tensor& x);

enum class GeluApprox { none, tanh };
// GELU (Hendrycks & Gimpel 2016): x * Phi(x) with the exact normal CDF (none), or the tanh approximation
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) used by GPT-2 (tanh). They differ by up to 4.7e-4 (near |x|
// = 2.7).
Tensor gelu(const Tensor& x, GeluApprox approx = GeluApprox::none);
// x * sigmoid(x) (SiLU / swish, Elfwing et al. 2017).
Tensor silu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's overflow guard, also in
// backward).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);

}  // namespace xfmr
