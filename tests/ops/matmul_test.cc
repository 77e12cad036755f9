#include <gtest/gtest.h>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/core/autograd.h"
#include "xfmr/ops/matmul.h"

using namespace xfmr;
using test::expect_gradcheck;
using test::random_input;
using test::random_strided_input;
using test::random_transposed_input;

namespace {
test::OpFn mm() {
  return [](auto& in) { return matmul(in[0], in[1]); };
}
}  // namespace

TEST(MatmulGrad, TwoD) {
  expect_gradcheck(mm(), {random_input({3, 4}, 1), random_input({4, 5}, 2)});
  expect_gradcheck(mm(), {random_transposed_input({3, 4}, 3), random_input({4, 5}, 4)});
  expect_gradcheck(mm(), {random_input({3, 4}, 5), random_transposed_input({4, 5}, 6)});
  expect_gradcheck(mm(), {random_transposed_input({3, 4}, 7), random_transposed_input({4, 5}, 8)});
  expect_gradcheck(mm(), {random_strided_input({3, 4}, 9), random_strided_input({4, 2}, 10)});  // copy path
  expect_gradcheck(mm(), {random_input({1, 4}, 11), random_input({4, 1}, 12)});
}

TEST(MatmulGrad, Batched) {
  expect_gradcheck(mm(), {random_input({2, 3, 4}, 1), random_input({2, 4, 5}, 2)});
  expect_gradcheck(mm(), {random_transposed_input({2, 3, 4}, 3), random_transposed_input({2, 4, 5}, 4)});
  expect_gradcheck(mm(), {random_strided_input({2, 3, 4}, 5), random_input({2, 4, 2}, 6)});
}

TEST(MatmulGrad, BroadcastBatch) {
  expect_gradcheck(mm(), {random_input({2, 1, 3, 4}, 1), random_input({3, 4, 2}, 2)});      // batch [2, 3]
  expect_gradcheck(mm(), {random_input({3, 4}, 3), random_input({2, 4, 5}, 4)});            // a broadcast
  expect_gradcheck(mm(), {random_transposed_input({2, 1, 3, 4}, 5), random_transposed_input({1, 2, 4, 3}, 6)});
  // b without batch: a's batch is folded into M (one GEMM), also when a needs a copy to fold
  expect_gradcheck(mm(), {random_input({2, 3, 4}, 7), random_input({4, 5}, 8)});
  expect_gradcheck(mm(), {random_transposed_input({2, 3, 4}, 9), random_input({4, 5}, 10)});
  expect_gradcheck(mm(), {random_input({2, 3, 4}, 11), random_input({1, 4, 5}, 12)});
}

TEST(MatmulGrad, Vectors) {
  expect_gradcheck(mm(), {random_input({2, 3, 4}, 1), random_input({4}, 2)});
  expect_gradcheck(mm(), {random_input({4}, 3), random_input({2, 4, 5}, 4)});
  expect_gradcheck(mm(), {random_input({4}, 5), random_input({4}, 6)});
}

TEST(MatmulGrad, Linear) {
  auto lin = [](auto& in) { return linear(in[0], in[1], in[2]); };
  auto lin_nb = [](auto& in) { return linear(in[0], in[1]); };
  expect_gradcheck(lin, {random_input({2, 3, 4}, 1), random_input({5, 4}, 2), random_input({5}, 3)});
  expect_gradcheck(lin_nb, {random_input({3, 4}, 4), random_input({5, 4}, 5)});
  expect_gradcheck(lin, {random_transposed_input({3, 4}, 6), random_transposed_input({5, 4}, 7), random_input({5}, 8)});
  expect_gradcheck(lin, {random_transposed_input({2, 3, 4}, 9), random_input({5, 4}, 10), random_input({5}, 11)});
  expect_gradcheck(lin, {random_strided_input({2, 3, 4}, 12), random_strided_input({5, 4}, 13), random_input({5}, 14)});
  expect_gradcheck(lin, {random_input({4}, 15), random_input({5, 4}, 16), random_input({5}, 17)});
}

TEST(Matmul, MatchesNaiveProduct) {
  // A shape large enough for a multi-threaded GEMM, checked against a plain triple loop.
  Generator g(3);
  const int64_t M = 67, K = 129, N = 71;
  Tensor a = randn({2, M, K}, DType::f64, g), b = randn({K, N}, DType::f64, g);
  Tensor c = matmul(a, b);
  const double* pa = a.data<double>();
  const double* pb = b.data<double>();
  double err = 0;
  for (int64_t bt = 0; bt < 2; ++bt)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += pa[(bt * M + i) * K + k] * pb[k * N + j];
        err = std::max(err, std::fabs(s - c.at({bt, i, j})));
      }
  EXPECT_LT(err, 1e-10);
}

TEST(Matmul, EmptyDims) {
  Tensor c = matmul(Tensor::ones({2, 0}), Tensor::ones({0, 3}));
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  for (double v : c.to_vector()) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(matmul(Tensor::ones({0, 4}), Tensor::ones({4, 3})).shape(), (Shape{0, 3}));
  EXPECT_EQ(matmul(Tensor::ones({2, 3, 0}), Tensor::ones({0, 5})).shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(matmul(Tensor::ones({2, 0, 4}), Tensor::ones({2, 4, 5})).shape(), (Shape{2, 0, 5}));
  EXPECT_EQ(linear(Tensor::ones({0, 4}), Tensor::ones({3, 4}), Tensor::ones({3})).shape(), (Shape{0, 3}));
  // in_features = 0: every output row is the bias (the GEMM's empty-contraction path with a bias)
  for (DType dt : {DType::f32, DType::f64}) {
    const std::vector<double> bv{1.5, -2.0, 3.25};
    const Tensor bias = Tensor::from_vector(std::span<const double>(bv), {3}, dt);
    const Tensor y = linear(Tensor::ones({2, 0}, dt), Tensor::ones({3, 0}, dt), bias);
    EXPECT_EQ(y.to_vector(), (std::vector<double>{1.5, -2.0, 3.25, 1.5, -2.0, 3.25}));
  }
}

TEST(MatmulParity, Torch) {
  test::ParityBatch b;
  b.add("matmul_2d", "matmul", {}, {b.randn({5, 7}), b.randn({7, 3})}, mm());
  b.add("matmul_batched", "matmul", {}, {b.randn({2, 3, 5, 7}), b.randn({2, 3, 7, 4})}, mm());
  b.add("matmul_broadcast", "matmul", {}, {b.randn({2, 1, 5, 7}), b.randn({3, 7, 4})}, mm());
  b.add("matmul_fold", "matmul", {}, {b.randn({4, 6, 8}), b.randn({8, 5})}, mm());
  b.add("matmul_vec", "matmul", {}, {b.randn({3, 5, 7}), b.randn({7})}, mm());
  b.add("matmul_transposed", "matmul", {},
        {test::transposed_leaf(b.randn({2, 7, 5})), test::transposed_leaf(b.randn({2, 4, 7}))}, mm());
  b.add("linear_bias", "linear", {}, {b.randn({2, 6, 8}), b.randn({5, 8}), b.randn({5})},
        [](auto& in) { return linear(in[0], in[1], in[2]); });
  b.add("linear_nobias", "linear", {}, {b.randn({6, 8}), b.randn({5, 8})}, [](auto& in) { return linear(in[0], in[1]); });
  b.add("linear_transposed_x", "linear", {}, {test::transposed_leaf(b.randn({8, 6})), b.randn({5, 8}), b.randn({5})},
        [](auto& in) { return linear(in[0], in[1], in[2]); });
  b.run();
}

TEST(MatmulErrors, BadInputs) {
  test::expect_error([] { matmul(Tensor::ones({2, 3}), Tensor::ones({4, 5})); },
                     {"matmul: shapes [2, 3] and [4, 5] are incompatible (3 vs 4)"});
  test::expect_error([] { matmul(Tensor::ones({2, 2, 3}), Tensor::ones({3, 3, 5})); }, {"matmul", "[2, 2, 3]", "[3, 3, 5]"});
  test::expect_error([] { matmul(Tensor::ones({2, 3}), Tensor::ones({3, 5}, DType::f64)); }, {"matmul", "dtype", "[3, 5]"});
  test::expect_error([] { matmul(Tensor::ones({2, 3}, DType::i64), Tensor::ones({3, 5}, DType::i64)); }, {"matmul", "i64"});
  test::expect_error([] { matmul(Tensor::scalar(1), Tensor::ones({3, 5})); }, {"matmul", "[3, 5]"});
  test::expect_error([] { linear(Tensor::ones({2, 3}), Tensor::ones({5, 4})); }, {"linear", "[2, 3]", "[5, 4]"});
  test::expect_error([] { linear(Tensor::ones({2, 4}), Tensor::ones({5, 4}), Tensor::ones({4})); }, {"linear", "bias", "[4]"});
  test::expect_error([] { linear(Tensor::ones({2, 4}), Tensor::ones({5, 4}, DType::f64)); }, {"linear", "dtype"});
}

TEST(MatmulGrad, OnlySomeInputsNeedGrad) {
  Tensor a = random_input({2, 3, 4}, 1), b = random_input({2, 4, 5}, 2);
  a.set_requires_grad(false);
  expect_gradcheck(mm(), {a, b});
  Tensor x = random_input({3, 4}, 3), w = random_input({5, 4}, 4), bias = random_input({5}, 5);
  x.set_requires_grad(false);
  expect_gradcheck([](auto& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias});
  w.set_requires_grad(false);
  expect_gradcheck([](auto& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias});
}
