// In-place adjustments of random test inputs (leaves, possibly non-contiguous views), for ops whose domain or
// kinks need care in finite-difference checks: log/sqrt need positive inputs, clamp/relu/softplus have points
// where the derivative jumps. The tensor keeps its requires_grad flag (these writes are not recorded).
#pragma once
#include <cmath>
#include <initializer_list>

#include "xfmr/core/strided.h"
#include "xfmr/core/tensor.h"

namespace xfmr::test {

// Calls f(double&) on every element of t (any float dtype, any strides).
template <class F>
void modify_elements(Tensor& t, F f) {
  void* base = t.raw_data();
  const DType dt = t.dtype();
  for_each_offset<1>(t.shape(), {t.strides()}, {0}, [&](int64_t o) {
    double v = load_as_double(base, dt, o);
    f(v);
    store_from_double(base, dt, o, v);
  });
}

// x -> |x| + lo: strictly positive values.
inline Tensor& make_positive(Tensor& t, double lo = 0.5) {
  modify_elements(t, [lo](double& v) { v = std::fabs(v) + lo; });
  return t;
}

// Moves any value within `gap` of one of `points` to distance `gap` from it (on its own side).
inline Tensor& avoid_points(Tensor& t, std::initializer_list<double> points, double gap) {
  modify_elements(t, [&](double& v) {
    for (double p : points)
      if (std::fabs(v - p) < gap) v = p + (v >= p ? gap : -gap);
  });
  return t;
}

}  // namespace xfmr::test
