// Multi-head causal self-attention (Vaswani et al. 2017) with one fused qkv projection, as in GPT-2.
// The attention itself is ops/attention.h's fused, tiled kernel: no T×T matrix is stored.
#pragma once
#include "xfmr/core/rng.h"
#include "xfmr/nn/linear.h"

namespace xfmr::nn {

class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(int64_t dim, int64_t n_head, Generator& gen, double proj_std = 0.02, DType dtype = DType::f32);
  // x: [B, T, dim] -> [B, T, dim]. In training mode with attn_dropout > 0 the attention probabilities are
  // dropped (ops/attention.h), the mask keyed by one draw from dropout_gen (nullptr: the default generator).
  Tensor forward(const Tensor& x, Generator* dropout_gen = nullptr) const;
  // residual + forward(x), the add fused into proj's GEMM (a pre-LN block's first residual connection).
  Tensor forward_residual(const Tensor& x, const Tensor& residual, Generator* dropout_gen = nullptr) const;
  int64_t dim, n_head;
  double attn_dropout = 0;  // in [0, 1)
  Linear qkv, proj;

 private:
  Tensor heads(const Tensor& x, Generator* dropout_gen) const;  // the merged heads, before proj
};

}  // namespace xfmr::nn
