#include "xfmr/nn/swiglu.h"

#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"

namespace xfmr::nn {

SwiGLU::SwiGLU(int64_t dim, int64_t hidden, Generator& gen, double down_std, DType dtype)
    : gate_proj(dim, hidden, false, gen, 0.02, dtype),
      up_proj(dim, hidden, false, gen, 0.02, dtype),
      down_proj(hidden, dim, false, gen, down_std, dtype) {
  register_module("gate_proj", gate_proj);
  register_module("up_proj", up_proj);
  register_module("down_proj", down_proj);
}

Tensor SwiGLU::forward(const Tensor& x) const {
  return down_proj.forward(silu(gate_proj.forward(x)) * up_proj.forward(x));
}

}  // namespace xfmr::nn
