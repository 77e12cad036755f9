#include "xfmr/models/causal_lm.h"

#include "xfmr/core/autograd.h"

namespace xfmr::models {

void check_token_ids(const Tensor& ids, int64_t block_size, const char* who) {
  XF_CHECK(ids.defined() && ids.dim() == 2, who, ": expected token ids [B, T], got ",
           ids.defined() ? ids.shape().str() : std::string("an undefined tensor"));
  XF_CHECK(ids.dtype() == DType::i64 || ids.dtype() == DType::i32, who, ": token ids must be i64 or i32, got ",
           dtype_name(ids.dtype()));
  XF_CHECK(ids.size(1) >= 1 && ids.size(1) <= block_size, who, ": sequence length ", ids.size(1),
           " must be in [1, block_size = ", block_size, "]");
}

void copy_parameter(Tensor& dst, const Tensor& src) {
  XF_CHECK(dst.shape() == src.shape(), "copy_parameter: shape ", src.shape().str(), " does not match ",
           dst.shape().str());
  NoGradGuard ng;
  dst.copy_(src);
}

}  // namespace xfmr::models
