// Scalar reference for the reduction kernels of kernels/cpu/reduce.h: sums in double, one element at a time.
#pragma once
#include <vector>

#include "xfmr/core/strided.h"

namespace xfmr::kernels::ref {

// out (contiguous, x's rank, extent 1 along reduced dims) = sum of x over the dims where out has extent 1 and
// x does not. Accumulates in double and rounds once.
template <class T>
void sum_to_shape(Tensor& out, const Tensor& x) {
  std::vector<double> acc(static_cast<size_t>(out.numel()), 0.0);
  const Strides st[2] = {broadcast_strides(out, x.shape()), x.strides()};
  const T* px = x.data<T>();
  for_each_offset<2>(x.shape(), st, {0, 0},
                     [&](int64_t oo, int64_t ox) { acc[static_cast<size_t>(oo)] += px[ox]; });
  T* o = out.data<T>();
  for (size_t i = 0; i < acc.size(); ++i) o[i] = static_cast<T>(acc[i]);
}

}  // namespace xfmr::kernels::ref
