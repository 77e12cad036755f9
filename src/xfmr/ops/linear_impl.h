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
  Shape x_shape;    // [..., in]
  Shape out_shape;  // [..., out]
};

// What the backward reads: W, and x, or in bf16 training x already packed for the weight gradient (kept instead
// of x: half the bytes, and no conversion in the backward).
struct LinearSaved {
  Tensor x2, x_packed, wp;
  Shape x_shape;
};

// Checks x [..., in], weight [out, in], bias [out] (or undefined) as `op`, with Errors naming op and the shapes.
LinearOperands linear_operands(const Tensor& x, const Tensor& weight, const Tensor& bias, const char* op);

// out (contiguous, o.out_shape) = x·Wᵀ + b in one GEMM; epilogue, if given, runs over each finished block of
// out's rows ([rows, out] numbering) while it is in cache. grad: a backward will run (weight_grad: it needs dW);
// returns what it reads (empty without grad).
LinearSaved linear_forward_into(const LinearOperands& o, const Tensor& out, bool grad, bool weight_grad,
                                kernels::GemmEpilogue epilogue = {});

// Fills gs.g[0..2] (dx, dW, db, where needed) from g = dL/dy of y = x·Wᵀ + b; dx_epilogue (optional) runs over
// each finished block of dx's rows ([rows, in] numbering) while it is in cache.
void linear_backward(const Tensor& g, const LinearSaved& saved, GradSlots& gs,
                     kernels::GemmEpilogue dx_epilogue = {});

}  // namespace xfmr::detail
