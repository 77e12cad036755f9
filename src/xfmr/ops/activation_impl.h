// Internal: activation kernels that other ops apply to their own buffers (the fused linear + GELU of
// ops/linear_fused.cc runs GELU over each finished block of its GEMM's output).
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"
#include "xfmr/ops/activation.h"

namespace xfmr::detail {

// The dtype in which a GELU over x keeps its slope gelu'(x) for the backward: x's own, except in bf16 training
// (f32 with effective_matmul_precision() == bf16), where it is rounded to bf16. There the gradient it scales,
// dL/d(pre-activation), is the A operand of the next two bf16 products (rounded to bf16 when packed) and, summed
// in f32, a bias gradient; a second rounding of relative size 2^-9 sits in that noise, and it halves the
// largest tensor a GPT block keeps for its backward (4·width per token, written in the forward and read back
// from memory in the backward: 2.5% of the ICL-small bf16 step, docs/BENCHMARKS.md).
DType gelu_slope_dtype(DType x);

// y[r * ldy + c] = gelu(y[r * ldy + c]) in place for r < rows, c < cols, with the same formulas (and so the same
// values) as gelu(); when dy is not null, dy[r * lddy + c] = gelu'(the input) as well, stored as S: T, or
// uint16_t bf16 bits for T = float (gelu_slope_dtype). Instantiated for (f32, f32), (f32, bf16), (f64, f64).
template <class T, class S>
void gelu_rows_inplace(T* y, int64_t ldy, S* dy, int64_t lddy, int64_t rows, int64_t cols, GeluApprox approx);

// g ∘ slope for a backward closure that owns `slope` (contiguous, g's shape; the graph is single-use, autograd.h):
// written over slope itself when g is contiguous and slope has g's dtype (no fresh buffer, whose first write
// would read each line in from memory), else a fresh tensor (always for a bf16 slope). Returns the product.
Tensor times_slope(const Tensor& g, const Tensor& slope);

}  // namespace xfmr::detail
