#include "xfmr/nn/norm.h"

#include "xfmr/ops/norm.h"

namespace xfmr::nn {

LayerNorm::LayerNorm(int64_t dim, double eps_, bool with_bias, DType dtype) : eps(eps_) {
  XF_CHECK(dim > 0, "LayerNorm: dim must be positive, got ", dim);
  weight = register_parameter("weight", Tensor::ones({dim}, dtype), /*decay=*/false);
  if (with_bias) bias = register_parameter("bias", Tensor::zeros({dim}, dtype), /*decay=*/false);
}
Tensor LayerNorm::forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }

RMSNorm::RMSNorm(int64_t dim, double eps_, DType dtype) : eps(eps_) {
  XF_CHECK(dim > 0, "RMSNorm: dim must be positive, got ", dim);
  weight = register_parameter("weight", Tensor::ones({dim}, dtype), /*decay=*/false);
}
Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, weight, eps); }

}  // namespace xfmr::nn
