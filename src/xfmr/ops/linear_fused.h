// Linear layers fused with the op that follows them in a transformer block. The second op runs in the GEMM's
// epilogue, over each finished block of the output while that block is still in cache (kernels::GemmEpilogue),
// instead of as a separate pass that reads the whole output back from memory: for the ICL and char-GPT
// training steps the MLP's hidden activations (4 x n_embd per token) are written once instead of three times.
// Values are bit-identical to the unfused composition (same GEMM, same elementwise formulas); each is one
// autograd node. Shapes and errors as linear() (ops/matmul.h).
#pragma once
#include "xfmr/core/tensor.h"
#include "xfmr/ops/activation.h"

namespace xfmr {

// gelu(linear(x, weight, bias), approx). x: [..., in], weight: [out, in], bias: [out] or undefined -> [..., out].
// Training stores gelu' of the pre-activation (as gelu() does), not the pre-activation itself.
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias, GeluApprox approx = GeluApprox::none);

// residual + linear(x, weight, bias): the residual connection of a pre-LN block. residual: [..., out], exactly the
// output's shape (no broadcasting), same dtype.
Tensor linear_residual(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual);

// residual + linear(linear_gelu(x, fc_weight, fc_bias, approx), proj_weight, proj_bias): a pre-LN block's MLP
// branch with its residual add, as one op so that the backward can apply GELU's slope in the epilogue of the GEMM
// that produces the hidden layer's gradient (no separate pass over it). x: [..., dim], fc_weight: [hidden, dim],
// proj_weight: [dim_out, hidden], residual: [..., dim_out]; biases may be undefined.
Tensor mlp_residual(const Tensor& x, const Tensor& fc_weight, const Tensor& fc_bias, const Tensor& proj_weight,
                    const Tensor& proj_bias, const Tensor& residual, GeluApprox approx = GeluApprox::none);

}  // namespace xfmr
