#include "xfmr/nn/transformer_block.h"

#include <cmath>

#include "xfmr/ops/elementwise.h"

namespace xfmr::nn {

namespace {
double residual_std(int64_t n_layer) { return 0.02 / std::sqrt(2.0 * static_cast<double>(n_layer)); }
}  // namespace

PreLNBlock::PreLNBlock(int64_t dim, int64_t n_head, int64_t n_layer, Generator& gen, DType dtype, GeluApprox gelu)
    : ln1(dim, 1e-5, true, dtype),
      attn(dim, n_head, gen, residual_std(n_layer), dtype),
      ln2(dim, 1e-5, true, dtype),
      mlp(dim, 4 * dim, gen, gelu, residual_std(n_layer), dtype) {
  register_module("ln1", ln1);
  register_module("attn", attn);
  register_module("ln2", ln2);
  register_module("mlp", mlp);
}

Tensor PreLNBlock::forward(const Tensor& x) const {
  // Each residual add runs in its projection's GEMM epilogue (the same values as x + attn(ln1(x)), etc.).
  const Tensor h = attn.forward_residual(ln1.forward(x), x);
  return mlp.forward_residual(ln2.forward(h), h);
}

}  // namespace xfmr::nn
