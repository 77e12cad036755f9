// Linear layer: y = x·Wᵀ + b, weight [out, in] (PyTorch layout, so checkpoints map one to one).
#pragma once
#include "xfmr/core/rng.h"
#include "xfmr/nn/module.h"

namespace xfmr::nn {

class Linear : public Module {
 public:
  // Weights ~ N(0, init_std²) (GPT-2 style); bias zeros and exempt from weight decay.
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen, double init_std = 0.02,
         DType dtype = DType::f32);
  // x: [..., in] -> [..., out]
  Tensor forward(const Tensor& x) const;
  // residual + forward(x) with the add in the GEMM's epilogue (ops/linear_fused.h); residual: [..., out].
  Tensor forward_residual(const Tensor& x, const Tensor& residual) const;

  Tensor weight;  // [out, in]
  Tensor bias;    // [out] or undefined
};

}  // namespace xfmr::nn
