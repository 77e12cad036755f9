#include "xfmr/nn/attention.h"

#include "xfmr/ops/attention.h"

namespace xfmr::nn {

CausalSelfAttention::CausalSelfAttention(int64_t dim_, int64_t n_head_, Generator& gen, double proj_std,
                                         DType dtype)
    : dim(dim_), n_head(n_head_), qkv(dim_, 3 * dim_, true, gen, 0.02, dtype), proj(dim_, dim_, true, gen, proj_std, dtype) {
  XF_CHECK(n_head > 0 && dim % n_head == 0, "CausalSelfAttention: dim ", dim, " is not divisible by n_head ", n_head);
  register_module("qkv", qkv);
  register_module("proj", proj);
}

Tensor CausalSelfAttention::heads(const Tensor& x, Generator* dropout_gen) const {
  XF_CHECK(x.dim() == 3 && x.size(2) == dim, "CausalSelfAttention: expected input [B, T, ", dim, "], got ",
           x.shape().str());
  // qkv: [B, T, 3*dim] -> causal attention per head -> [B, T, dim] (heads split and merged inside the op)
  const double p = training() ? attn_dropout : 0.0;
  const uint64_t seed = p > 0 ? (dropout_gen ? *dropout_gen : default_generator()).next_u64() : 0;
  return packed_self_attention(qkv.forward(x), n_head, /*causal=*/true, p, seed);
}

Tensor CausalSelfAttention::forward(const Tensor& x, Generator* dropout_gen) const {
  return proj.forward(heads(x, dropout_gen));
}

Tensor CausalSelfAttention::forward_residual(const Tensor& x, const Tensor& residual, Generator* dropout_gen) const {
  return proj.forward_residual(heads(x, dropout_gen), residual);
}

}  // namespace xfmr::nn
