// Internal: the pieces of ops/matmul.cc's linear that the fused linear ops (ops/linear_fused.cc) share with it:
// argument checks and BLAS-ready operands, the forward GEMM (with an optional epilogue over the output blocks)
// and the backward from the output gradient.
#pragma once
#include "xfmr/core/autograd.h"
#include "xfmr/core/tensor.h"
#include "xfmr/kernels/cpu/gemm_bf16.h"

namespace xfmr::detail {

struct LinearOperands {
  Tensor x2;        // [rows, in], BLAS-ready (x with its leading dims flattened)
  Tensor wp;        // [out, in], BLAS-ready
  Tensor bias;      // [out] contiguous, or undefined
  Shape out_shape;  // [..., out]
};

// Checks x [..., in], weight [out, in], bias [out] (or undefined) as `op`, with Errors naming op and the shapes.
LinearOperands linear_operands(const Tensor& x, const Tensor& weight, const Tensor& bias, const char* op);

// out (contiguous, o.out_shape) = x·Wᵀ + b in one GEMM; epilogue, if given, runs over each finished block of
// out's rows ([rows, out] numbering) while it is in cache.
void linear_forward_into(const LinearOperands& o, const Tensor& out, kernels::GemmEpilogue epilogue = {});

// Fills gs.g[0..2] (dx, dW, db, where needed) from g = dL/dy of y = x·Wᵀ + b; x2, wp as saved by the forward.
void linear_backward(const Tensor& g, const Tensor& x2, const Tensor& wp, const Shape& x_shape, GradSlots& gs);

}  // namespace xfmr::detail
