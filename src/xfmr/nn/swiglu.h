// SwiGLU feed-forward (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6), as in Llama:
//   down( silu(gate(x)) * up(x) ),  no biases. Child names follow Hugging Face: gate_proj, up_proj, down_proj.
#pragma once
#include "xfmr/nn/linear.h"

namespace xfmr::nn {

class SwiGLU : public Module {
 public:
  // gate/up ~ N(0, 0.02²); down (the residual projection) ~ N(0, down_std²).
  SwiGLU(int64_t dim, int64_t hidden, Generator& gen, double down_std = 0.02, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;  // x: [..., dim] -> [..., dim]
  Linear gate_proj, up_proj, down_proj;
};

}  // namespace xfmr::nn
