// Differentiable reductions (f32 and f64). Dims follow PyTorch: negative dims count from the end, a repeated
// dim is an Error, an empty dim list reduces every dimension, and keepdim keeps reduced dims as extent 1:
//   x: [B, T, C]  sum(x, {-1})            -> [B, T]
//   x: [B, T, C]  mean(x, {0, 1}, true)   -> [1, 1, C]
// Reductions over one run of adjacent dims (the last dim, leading dims, a middle dim) run through vectorised,
// threaded kernels (kernels/cpu/reduce.h) that add blocks of ~128 elements in the tensor's dtype and the
// block sums in double; other dim sets (e.g. {0, 2} of a 3-d tensor) take a correct but slower generic path.
#pragma once
#include <cstdint>

#include "xfmr/core/tensor.h"

namespace xfmr {

Tensor sum(const Tensor& x);  // all elements -> 0-d tensor
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x);  // all elements -> 0-d tensor
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);

// Largest value along `dim`: x: [..., K, ...] -> [..., ...] (or [..., 1, ...] with keepdim). NaN counts as
// the largest value, as in torch. The gradient goes to the first maximal index only.
Tensor max(const Tensor& x, int dim, bool keepdim = false);
// Like max, also returning the (first) index of the maximum as i64 (no gradient).
Tensor max(const Tensor& x, int dim, bool keepdim, Tensor* indices);

// torch.var: sum((x - mean)^2) / (N - correction) over dims (N = number of reduced elements). N <= correction
// gives inf or nan, as in torch.
Tensor var(const Tensor& x, const Shape& dims, bool keepdim = false, int64_t correction = 1);

// Sums g over its broadcast dimensions down to `shape` (which must broadcast to g's shape): the same result
// as sum_to in ops/view.h, through the fast reduction kernels. Returns g itself when the shapes match.
Tensor reduce_sum_to(const Tensor& g, const Shape& shape);

}  // namespace xfmr
