// Embedding lookup (a row gather) with a scatter-add backward.
#pragma once
#include "xfmr/core/tensor.h"

namespace xfmr {

// weight: [V, D] (f32/f64), ids: i64 or i32 of any shape [...] -> [..., D], out[..., :] = weight[ids[...], :].
// An id outside [0, V) is an Error naming the id and V. Backward: the rows of the gradient are scatter-added into
// a zero [V, D] gradient (O(n·D) work beyond the zero fill; repeated ids accumulate).
Tensor embedding(const Tensor& weight, const Tensor& ids);

}  // namespace xfmr
