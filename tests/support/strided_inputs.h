// More non-contiguous leaves for op tests (beside gradcheck.h's random_transposed_input).
#pragma once
#include "support/errors.h"
#include "support/gradcheck.h"

namespace xfmr::test {

// A leaf of logical `shape` whose last dim has stride 2 (every other column of a wider tensor): neither row- nor
// column-major, so ops that need a dense layout must copy.
inline Tensor random_strided_input(const Shape& shape, uint64_t seed = 1, DType dt = DType::f64) {
  Shape wide = shape;
  wide[wide.size() - 1] *= 2;
  Tensor base = random_input(wide, seed, 0.0, dt);
  Tensor t = slice(base.detach(), -1, 0, wide.back(), 2);
  t.set_requires_grad(true);
  return t;
}

// The given tensor's data seen through a transpose of its last two dims, as a fresh leaf (non-contiguous).
// For parity tests: t = b.randn({.., K, M}) gives a leaf of logical shape [.., M, K].
inline Tensor transposed_leaf(const Tensor& t) {
  Tensor v = transpose(t.detach(), -1, -2);
  v.set_requires_grad(true);
  return v;
}


}  // namespace xfmr::test
