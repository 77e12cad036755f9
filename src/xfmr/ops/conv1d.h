// Causal depthwise 1-D convolution over time, as in Mamba's block (Gu & Dao 2023, Fig. 3: the short conv before
// the SSM) and H3/Hyena's short filters: each channel has its own K taps and sees only the current and the
// K - 1 previous steps.
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// x: [B, T, C], weight: [C, K], bias: [C] (optional) -> y: [B, T, C]
//   y[b, t, c] = bias[c] + sum_{j < K} weight[c, j] * x[b, t - K + 1 + j, c]   (x = 0 before t = 0)
// So weight[c, K-1] multiplies the current step. Equals torch's conv1d(x.transpose(1, 2), weight.unsqueeze(1),
// bias, padding=K-1, groups=C)[..., :T] transposed back. Gradients for x, weight and bias; f32 and f64.
Tensor causal_depthwise_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace xfmr
