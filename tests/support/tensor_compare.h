// Comparing tensors in tests: the largest elementwise difference of two tensors of the same shape, in double
// (any dtype, any strides: Tensor::to_vector reads them in logical order).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "xfmr/core/tensor.h"

namespace xfmr::test {

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

}  // namespace xfmr::test
