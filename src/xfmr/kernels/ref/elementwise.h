// Scalar reference for the elementwise loops of kernels/cpu/loops.h: one element at a time through the
// generic strided walk, no coalescing, no threads. Tests compare the fast loops with it on every layout.
#pragma once
#include "xfmr/core/strided.h"

namespace xfmr::kernels::ref {

// out = f(a, b) with broadcasting; out is a fresh contiguous tensor of the broadcast shape.
template <class T, class F>
void binary(Tensor& out, const Tensor& a, const Tensor& b, F f) {
  const Strides st[3] = {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())};
  T* o = out.data<T>();
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  for_each_offset<3>(out.shape(), st, {0, 0, 0},
                     [&](int64_t oo, int64_t oa, int64_t ob) { o[oo] = f(pa[oa], pb[ob]); });
}

// out = f(x); same shape.
template <class T, class F>
void unary(Tensor& out, const Tensor& x, F f) {
  const Strides st[2] = {out.strides(), x.strides()};
  T* o = out.data<T>();
  const T* px = x.data<T>();
  for_each_offset<2>(out.shape(), st, {0, 0}, [&](int64_t oo, int64_t ox) { o[oo] = f(px[ox]); });
}

}  // namespace xfmr::kernels::ref
