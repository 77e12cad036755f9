// Differentiable indexing and joining ops: concat/split/stack move whole slabs along one dimension;
// gather/index_select pick elements or slices by an integer index tensor; one_hot builds a
// (non-differentiable) encoding. Shapes are PyTorch-order (see core/shape.h); negative dims count from the
// end.
//
// Forward works for every dtype (pure data movement); gradients flow to f32/f64 inputs. Index tensors are
// i64 or i32 and never receive gradients. Every failure is an xfmr::Error naming the op and the shapes.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/core/tensor.h"

namespace xfmr {

// Joins tensors along `dim`.  xs[i]: [d0, .., n_i, .., dk] (equal except along dim, one dtype, one rank)
// -> [d0, .., sum_i n_i, .., dk]. Any number of differentiable inputs (more than kMaxNodeInputs are recorded
// as a tree of nodes over views of the output, so no extra copies are made). Always returns a new tensor.
Tensor concat(const std::vector<Tensor>& xs, int dim);

// torch.split: chunks of `split_size` along dim (the last one may be smaller; an empty dim gives one empty
// chunk). Outputs are views of x (slice), each differentiable.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int dim);
// Chunks of the given sizes along dim; sizes must be >= 0 and sum to x.size(dim).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim);

// Joins equal-shaped tensors along a new dimension.  xs[i]: S -> S with xs.size() inserted at dim
// (dim in [-(rank+1), rank]).
Tensor stack(const std::vector<Tensor>& xs, int dim);

// torch.gather:  out[i][j][k] = x[i][index[i][j][k]][k]  (for dim == 1).
// x: [.., N (at dim), ..]; index: i64/i32, same rank as x, index.size(d) <= x.size(d) for d != dim, entries
// in [0, N) -> out: index.shape, x's dtype. Backward scatter-adds into x's shape (repeated indices
// accumulate).
Tensor gather(const Tensor& x, int dim, const Tensor& index);

// Slices of x along dim picked by a 1-D (or 0-D) index:  x: [.., N, ..], index: [n] i64/i32 in [0, N)
// -> [.., n, ..]. Backward index-adds (repeated indices accumulate), e.g. an embedding table's gradient.
Tensor index_select(const Tensor& x, int dim, const Tensor& index);

// ids: [...] i64/i32 in [0, num_classes) -> [..., num_classes] of `dtype` (1 at the id, 0 elsewhere).
// No gradient. num_classes must be positive.
Tensor one_hot(const Tensor& ids, int64_t num_classes, DType dtype = DType::f32);

}  // namespace xfmr
