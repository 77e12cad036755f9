// Differentiable view and layout ops. Views share storage with their input (no copy); their backward maps
// the gradient back to the input's shape. Shapes are PyTorch-order (see core/shape.h).
#pragma once
#include <initializer_list>

#include "xfmr/core/tensor.h"

namespace xfmr {

// Same elements, new shape (one extent may be -1). Copies only when the input's strides do not allow a view.
Tensor reshape(const Tensor& x, const Shape& shape);
// Like reshape, but refuses (Error) when a copy would be needed.
Tensor view(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int start_dim = 0, int end_dim = -1);
Tensor transpose(const Tensor& x, int dim0, int dim1);
Tensor permute(const Tensor& x, const Shape& dims);
// Elements start, start+step, ... < end along dim (negative start/end count from the end; clamped like Python).
Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end, int64_t step = 1);
// Index one position along dim, removing that dimension.
Tensor select(const Tensor& x, int dim, int64_t index);
// Broadcast to a larger shape without copying (stride 0 along broadcast dimensions; -1 keeps an extent).
Tensor expand(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int dim);
Tensor unsqueeze(const Tensor& x, int dim);
// The same values in contiguous memory (returns x itself when it already is).
Tensor contiguous(const Tensor& x);
// Differentiable dtype conversion between float types (f32 <-> f64; bf16/f16 storage is converted without grad).
Tensor to_dtype(const Tensor& x, DType dtype);

// Sums `g` over its broadcast dimensions so the result has `shape` (the backward of broadcasting).
// `shape` must broadcast to g's shape. Returns g itself when the shapes already match.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace xfmr
