// Normalisation layers over the last dimension: LayerNorm (Ba et al. 2016) and RMSNorm (Zhang & Sennrich 2019).
// Their weights are exempt from weight decay.
#pragma once
#include "xfmr/nn/module.h"

namespace xfmr::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;  // x: [..., dim]
  Tensor weight, bias;
  double eps;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-6, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;  // x: [..., dim]
  Tensor weight;
  double eps;
};

}  // namespace xfmr::nn
