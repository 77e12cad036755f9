// Matrix products through the BLAS: matmul (batched, broadcasting) and linear (x·Wᵀ + b in one GEMM).
// Shapes are PyTorch-order (see core/shape.h).
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// a: [..., M, K], b: [..., K, N] -> [..., M, N]. The batch dims (all but the last two) broadcast (NumPy rules).
// Like torch.matmul, a 1-D b ([K]) gives [..., M] and a 1-D a ([K]) gives [..., N]; two 1-D inputs give a scalar.
// Inputs whose last two dims are a row-major matrix or its transpose go to the BLAS without a copy (trans flags +
// leading dimension); other layouts are copied once. When b has no batch dims, the batch of a is folded into M so
// the whole product is one GEMM. f32 or f64; both inputs the same dtype.
// Error when K differs: "matmul: shapes [2, 3] and [4, 5] are incompatible (3 vs 4)".
Tensor matmul(const Tensor& a, const Tensor& b);

// x: [..., in], weight: [out, in], bias: [out] or undefined -> [..., out]   (y = x·Wᵀ + b, as torch's F.linear)
// One GEMM over all rows (leading dims flattened); the bias is added by the GEMM itself (gemm_into's bias: in
// the bf16 kernel's final store, or written into each row block just before its BLAS call with beta = 1). Backward: dx = g·W, dW = gᵀ·x (one GEMM each), db = Σ_rows g.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace xfmr
