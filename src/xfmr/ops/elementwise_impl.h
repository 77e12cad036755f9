// Internal helpers shared by the elementwise and activation ops: allocate the output and run one of the loops
// of kernels/cpu/loops.h over it, dispatching on the float dtype. Not part of the public API.
#pragma once
#include "xfmr/kernels/cpu/loops.h"

namespace xfmr::detail {

// out[i] = f(x[i]); same shape as x.
template <class F>
Tensor map1(const Tensor& x, const char* op, F f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (out.numel() == 0) return out;
  XF_DISPATCH_FLOAT(x.dtype(), op, [&] { kernels::unary<scalar_t>(out, x, f); });
  return out;
}

// out = f(a, b) over the broadcast shape. a and b must share a float dtype (checked by the caller).
template <class F>
Tensor map2(const Tensor& a, const Tensor& b, const char* op, F f) {
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), op), a.dtype());
  if (out.numel() == 0) return out;
  XF_DISPATCH_FLOAT(a.dtype(), op, [&] { kernels::binary<scalar_t>(out, a, b, f); });
  return out;
}

// out = f(a, b, c) over the broadcast shape of all three (same float dtype).
template <class F>
Tensor map3(const Tensor& a, const Tensor& b, const Tensor& c, const char* op, F f) {
  Tensor out =
      Tensor::empty(broadcast_shapes(broadcast_shapes(a.shape(), b.shape(), op), c.shape(), op), a.dtype());
  if (out.numel() == 0) return out;
  XF_DISPATCH_FLOAT(a.dtype(), op, [&] { kernels::ternary<scalar_t>(out, a, b, c, f); });
  return out;
}

}  // namespace xfmr::detail
