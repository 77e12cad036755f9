// Multi-head causal self-attention (Vaswani et al. 2017) with one fused qkv projection, as in GPT-2.
// The attention itself is ops/attention.h's fused, tiled kernel: no T×T matrix is stored.
#pragma once
#include "xfmr/nn/linear.h"

namespace xfmr::nn {

class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t dim, int64_t n_head, Generator& gen, double proj_std = 0.02, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;  // x: [B, T, dim] -> [B, T, dim]
  int64_t dim, n_head;
  Linear qkv, proj;
};

}  // namespace xfmr::nn
