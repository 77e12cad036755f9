// Internal: activation kernels that other ops apply to their own buffers (the fused linear + GELU of
// ops/linear_fused.cc runs GELU over each finished block of its GEMM's output).
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"
#include "xfmr/ops/activation.h"

namespace xfmr::detail {

// y[r * ldy + c] = gelu(y[r * ldy + c]) in place for r < rows, c < cols, with the same formulas (and so the same
// values) as gelu(); when dy is not null, dy[r * lddy + c] = gelu'(the input) as well. f32 and f64.
template <class T>
void gelu_rows_inplace(T* y, int64_t ldy, T* dy, int64_t lddy, int64_t rows, int64_t cols, GeluApprox approx);

// g ∘ slope for a backward closure that owns `slope` (contiguous, g's shape; the graph is single-use, autograd.h):
// written over slope itself when g is contiguous (no fresh buffer, whose first write would read each line in
// from memory), else a fresh tensor. Returns the product.
Tensor times_slope(const Tensor& g, const Tensor& slope);

}  // namespace xfmr::detail
