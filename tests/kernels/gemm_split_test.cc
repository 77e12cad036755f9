// gemm_into splits large products across threads itself (kernels/cpu/gemm_blas.cc): over the batch, over row
// blocks of one product, and over row blocks only when batch entries accumulate into one C (a broadcast
// operand's gradient). Each split must give the single-thread result, in f32 and f64, forward and backward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/reduce.h"

using namespace xfmr;

namespace {

struct Result {
  std::vector<double> out, ga, gb;
};

// out = a·b and the gradients of sum(out * w) for a fixed weight w, at `threads` threads.
Result run(const Shape& sa, const Shape& sb, DType dt, int threads) {
  set_num_threads(threads);
  Generator g(5);
  Tensor a = Tensor::empty(sa, dt), b = Tensor::empty(sb, dt);
  normal_(a, 0.0, 1.0, g);
  normal_(b, 0.0, 1.0, g);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor out = matmul(a, b);
  Tensor w = Tensor::empty(out.shape(), dt);
  normal_(w, 0.0, 1.0, g);
  sum(out * w).backward();
  return {out.to_vector(), a.grad().to_vector(), b.grad().to_vector()};
}

double max_rel_diff(const std::vector<double>& x, const std::vector<double>& y) {
  double num = 0, den = 1e-300;
  for (size_t i = 0; i < x.size(); ++i) {
    num = std::max(num, std::fabs(x[i] - y[i]));
    den = std::max(den, std::fabs(y[i]));
  }
  return num / den;
}

void expect_split_matches(const Shape& sa, const Shape& sb) {
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(std::string(dtype_name(dt)) + " " + sa.str() + " x " + sb.str());
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    const Result one = run(sa, sb, dt, 1), two = run(sa, sb, dt, 2);
    EXPECT_LT(max_rel_diff(two.out, one.out), tol);
    EXPECT_LT(max_rel_diff(two.ga, one.ga), tol);
    EXPECT_LT(max_rel_diff(two.gb, one.gb), tol);
  }
}

}  // namespace

TEST(GemmSplit, TwoThreadsMatchOne) {
  const int saved = num_threads();
  expect_split_matches({2, 384, 256}, {2, 256, 384});  // split over the batch
  expect_split_matches({520, 256}, {256, 512});        // row blocks of one product (uneven rows)
  expect_split_matches({1, 256, 256}, {4, 256, 256});  // a's gradient sums over the broadcast batch
  expect_split_matches({33, 7}, {7, 5});               // small: stays on one thread
  set_num_threads(saved);
}
