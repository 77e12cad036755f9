#include "xfmr/nn/linear.h"

#include "xfmr/ops/linear_fused.h"
#include "xfmr/ops/matmul.h"

namespace xfmr::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen, double init_std,
               DType dtype) {
  XF_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in=", in_features,
           " out=", out_features);
  Tensor w = Tensor::empty({out_features, in_features}, dtype);
  normal_(w, 0.0, init_std, gen);
  weight = register_parameter("weight", w);
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({out_features}, dtype), /*decay=*/false);
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

Tensor Linear::forward_residual(const Tensor& x, const Tensor& residual) const {
  return linear_residual(x, weight, bias, residual);
}

}  // namespace xfmr::nn
