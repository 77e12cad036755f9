// The transformer feed-forward block: fc -> activation -> proj (GPT-2: GELU, 4x width).
#pragma once
#include "xfmr/nn/linear.h"
#include "xfmr/ops/activation.h"

namespace xfmr::nn {

class MLP : public Module {
 public:
  MLP(int64_t dim, int64_t hidden, Generator& gen, GeluApprox approx = GeluApprox::none, double proj_std = 0.02,
      DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;  // x: [..., dim] -> [..., dim]
  // residual + forward(x), the add fused into proj's GEMM (a pre-LN block's second residual connection).
  Tensor forward_residual(const Tensor& x, const Tensor& residual) const;
  Linear fc, proj;
  GeluApprox approx;
};

}  // namespace xfmr::nn
