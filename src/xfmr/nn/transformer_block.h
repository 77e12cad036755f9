// A pre-LayerNorm transformer block (GPT-2, Radford et al. 2019): x + attn(ln1(x)), then x + mlp(ln2(x)).
#pragma once
#include "xfmr/nn/attention.h"
#include "xfmr/nn/mlp.h"
#include "xfmr/nn/norm.h"

namespace xfmr::nn {

class PreLNBlock : public Module {
 public:
  // The residual projections are initialised with std 0.02/sqrt(2·n_layer) (GPT-2 §2.3). gelu: the MLP's
  // activation (GPT-2 itself uses the tanh approximation, HF's "gelu_new").
  PreLNBlock(int64_t dim, int64_t n_head, int64_t n_layer, Generator& gen, DType dtype = DType::f32,
             GeluApprox gelu = GeluApprox::none);
  Tensor forward(const Tensor& x) const;  // x: [B, T, dim]
  LayerNorm ln1;
  CausalSelfAttention attn;
  LayerNorm ln2;
  MLP mlp;
};

}  // namespace xfmr::nn
