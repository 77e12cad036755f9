#include "xfmr/nn/attention.h"

#include "xfmr/ops/attention.h"
#include "xfmr/ops/view.h"

namespace xfmr::nn {

CausalSelfAttention::CausalSelfAttention(int64_t dim_, int64_t n_head_, Generator& gen, double proj_std,
                                         DType dtype)
    : dim(dim_), n_head(n_head_), qkv(dim_, 3 * dim_, true, gen, 0.02, dtype), proj(dim_, dim_, true, gen, proj_std, dtype) {
  XF_CHECK(n_head > 0 && dim % n_head == 0, "CausalSelfAttention: dim ", dim, " is not divisible by n_head ", n_head);
  register_module("qkv", qkv);
  register_module("proj", proj);
}

Tensor CausalSelfAttention::forward(const Tensor& x) const {
  XF_CHECK(x.dim() == 3 && x.size(2) == dim, "CausalSelfAttention: expected input [B, T, ", dim, "], got ",
           x.shape().str());
  const int64_t B = x.size(0), T = x.size(1), D = dim / n_head;
  // qkv: [B, T, 3*dim] -> [B, T, 3, H, D] -> [3, B, H, T, D]
  Tensor h = permute(reshape(qkv.forward(x), {B, T, 3, n_head, D}), {2, 0, 3, 1, 4});
  AttentionOptions opt;
  opt.causal = true;
  Tensor y = scaled_dot_product_attention(select(h, 0, 0), select(h, 0, 1), select(h, 0, 2), opt);
  // y: [B, H, T, D] -> [B, T, H*D]
  return proj.forward(reshape(transpose(y, 1, 2), {B, T, dim}));
}

}  // namespace xfmr::nn
