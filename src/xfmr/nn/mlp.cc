#include "xfmr/nn/mlp.h"

namespace xfmr::nn {

MLP::MLP(int64_t dim, int64_t hidden, Generator& gen, GeluApprox approx_, double proj_std, DType dtype)
    : fc(dim, hidden, true, gen, 0.02, dtype), proj(hidden, dim, true, gen, proj_std, dtype), approx(approx_) {
  register_module("fc", fc);
  register_module("proj", proj);
}

Tensor MLP::forward(const Tensor& x) const { return proj.forward(gelu(fc.forward(x), approx)); }

}  // namespace xfmr::nn
