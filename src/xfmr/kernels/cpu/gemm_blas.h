// Strided, batched GEMM through the BLAS (OpenBLAS cblas_sgemm / cblas_dgemm). No autograd: ops/matmul.cc and
// the other ops call this from their forward and backward passes.
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

// True when the last two dims of t ([..., R, C]) can be handed to the BLAS as is: row-major (stride(-1) == 1)
// or the transpose of a row-major matrix (stride(-2) == 1), with a valid leading dimension.
bool blas_compatible(const Tensor& t);
// t itself when blas_compatible(t), else a contiguous copy (no autograd).
Tensor blas_ready(const Tensor& t);

// c[batch..., M, N] = a[batch..., M, K] · b[batch..., K, N]   (or += when `accumulate`).
// a and b must be blas_compatible; their batch dims broadcast to c's (missing leading dims and size-1 dims are
// repeated). c must have stride(-1) == 1 and row stride >= N; its batch strides may be 0, in which case the
// products over those dims are summed into the same matrix (this is how a backward reduces over broadcast batch
// dims without materialising them); `accumulate` must then be true and c zero-initialised.
// Same float dtype (f32 or f64) for all three.
void gemm_into(const Tensor& a, const Tensor& b, const Tensor& c, bool accumulate);

// The raw (no autograd) view of t with its last two dims swapped.
Tensor transposed_view(const Tensor& t);

}  // namespace xfmr
