// Iteration over the elements of strided tensors in row-major order, for the generic (slow) paths:
// copies between layouts, dtype conversion, broadcasting. Hot kernels use contiguous fast paths instead.
#pragma once
#include <cstdint>

#include "xfmr/core/shape.h"
#include "xfmr/core/tensor.h"

namespace xfmr {

// Strides of `t` viewed as broadcast to `target` (0 along broadcast dimensions). The shapes must broadcast.
Strides broadcast_strides(const Tensor& t, const Shape& target);

// Calls f(off_0, ..., off_{N-1}) for every index of `shape`, where off_k = sum_i index_i * strides[k]_i.
template <int N, class F>
void for_each_offset(const Shape& shape, const Strides (&strides)[N], const int64_t (&base)[N], F&& f) {
  const int r = shape.size();
  const int64_t total = shape.numel();
  if (total == 0) return;
  int64_t idx[kMaxRank] = {};
  int64_t off[N];
  for (int k = 0; k < N; ++k) off[k] = base[k];
  for (int64_t n = 0; n < total; ++n) {
    if constexpr (N == 1) f(off[0]);
    if constexpr (N == 2) f(off[0], off[1]);
    if constexpr (N == 3) f(off[0], off[1], off[2]);
    if constexpr (N == 4) f(off[0], off[1], off[2], off[3]);
    for (int d = r - 1; d >= 0; --d) {
      idx[d]++;
      for (int k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Element load/store through a dtype tag, as double (slow path only).
double load_as_double(const void* base, DType dt, int64_t i);
void store_from_double(void* base, DType dt, int64_t i, double v);

}  // namespace xfmr
