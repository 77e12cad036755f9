// Normalisation over the last dim, fused: one forward pass per row saving its statistics, one backward pass per
// row (plus deterministic per-block partial sums for the weight/bias gradients). Rows run in parallel.
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// LayerNorm (Ba et al. 2016): x: [..., C], weight/bias: [C] or undefined (then 1 / 0) -> [..., C]
//   y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance, as torch.nn.functional.layer_norm.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// RMSNorm (Zhang & Sennrich 2019; Llama's variant): x: [..., C], weight: [C] or undefined -> [..., C]
//   y = x / sqrt(mean(x²) + eps) * weight.
Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps = 1e-6);

}  // namespace xfmr
