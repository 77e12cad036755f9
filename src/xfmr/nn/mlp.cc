#include "xfmr/nn/mlp.h"

#include "xfmr/ops/linear_fused.h"

namespace xfmr::nn {

MLP::MLP(int64_t dim, int64_t hidden, Generator& gen, GeluApprox approx_, double proj_std, DType dtype)
    : fc(dim, hidden, true, gen, 0.02, dtype), proj(hidden, dim, true, gen, proj_std, dtype), approx(approx_) {
  register_module("fc", fc);
  register_module("proj", proj);
}

// fc and its GELU in one op (ops/linear_fused.h): the hidden activations are written once.
Tensor MLP::forward(const Tensor& x) const { return proj.forward(linear_gelu(x, fc.weight, fc.bias, approx)); }

// The whole branch and its residual add as one op: backward applies GELU's slope in a GEMM epilogue as well.
Tensor MLP::forward_residual(const Tensor& x, const Tensor& residual) const {
  return mlp_residual(x, fc.weight, fc.bias, proj.weight, proj.bias, residual, approx);
}

}  // namespace xfmr::nn
