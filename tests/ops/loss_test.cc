#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/ops/loss.h"

using namespace xfmr;
using test::expect_gradcheck;
using test::random_input;

namespace {
Tensor targets_of(std::initializer_list<int64_t> v, const Shape& s) {
  return Tensor::from_vector(std::span<const int64_t>(v.begin(), v.size()), s);
}
}  // namespace

TEST(LossGrad, CrossEntropy) {
  const Tensor t = targets_of({0, 4, 2, 1}, {4});
  expect_gradcheck([&](auto& in) { return cross_entropy(in[0], t); }, {random_input({4, 5}, 1)});
  expect_gradcheck([&](auto& in) { return cross_entropy(in[0], t, -100, 0.1); }, {random_input({4, 5}, 2)});
  expect_gradcheck([&](auto& in) { return cross_entropy(in[0], t); }, {test::random_transposed_input({4, 5}, 3)});
  const Tensor ti = targets_of({0, -1, 2, -1, 3, 1}, {2, 3});  // [B, T] targets with ignored positions
  expect_gradcheck([&](auto& in) { return cross_entropy(in[0], ti, -1, 0.2); }, {random_input({2, 3, 4}, 4)});
  expect_gradcheck([&](auto& in) { return cross_entropy(in[0], ti, -1); }, {test::random_strided_input({2, 3, 4}, 5)});
}

TEST(LossGrad, Mse) {
  auto f = [](auto& in) { return mse_loss(in[0], in[1]); };
  expect_gradcheck(f, {random_input({3, 4}, 1), random_input({3, 4}, 2)});
  expect_gradcheck(f, {test::random_transposed_input({2, 3, 4}, 3), random_input({2, 3, 4}, 4)});
}

TEST(Loss, CrossEntropyValues) {
  // Uniform logits: loss = log C whatever the target; all ignored -> NaN (torch) with a zero gradient.
  Tensor x = Tensor::zeros({3, 8});
  EXPECT_NEAR(cross_entropy(x, targets_of({1, 2, 7}, {3})).item(), std::log(8.0), 1e-6);
  Tensor xl = random_input({2, 3}, 1);
  Tensor l = cross_entropy(xl, targets_of({-100, -100}, {2}));
  EXPECT_TRUE(std::isnan(l.item()));
  l.backward();
  if (xl.grad().defined()) {
    for (double v : xl.grad().to_vector()) EXPECT_EQ(v, 0.0);
  }
  // i32 targets are accepted.
  EXPECT_NEAR(cross_entropy(x, targets_of({1, 2, 7}, {3}).converted(DType::i32)).item(), std::log(8.0), 1e-6);
}

TEST(LossParity, Torch) {
  test::ParityBatch b;
  b.add("cross_entropy_plain", "cross_entropy", {}, {b.randn({6, 10}, DType::f32, 2.0), b.randint(0, 10, {6})},
        [](auto& in) { return cross_entropy(in[0], in[1]); });
  Tensor t = b.randint(0, 7, {3, 5});
  t.data<int64_t>()[1] = -100;
  t.data<int64_t>()[7] = -100;
  b.add("cross_entropy_ignore", "cross_entropy", {}, {b.randn({3, 5, 7}), t},
        [](auto& in) { return cross_entropy(in[0], in[1]); });
  Tensor t2 = b.randint(0, 7, {3, 5});
  t2.data<int64_t>()[4] = 3;
  t2.data<int64_t>()[0] = 0;
  b.add("cross_entropy_smooth_ignore", "cross_entropy", {{"ignore_index", 0}, {"label_smoothing", 0.1}},
        {b.randn({3, 5, 7}), t2}, [](auto& in) { return cross_entropy(in[0], in[1], 0, 0.1); });
  b.add("cross_entropy_big", "cross_entropy", {{"label_smoothing", 0.05}}, {b.randn({256, 100}), b.randint(0, 100, {256})},
        [](auto& in) { return cross_entropy(in[0], in[1], -100, 0.05); });
  b.add("mse_loss", "mse_loss", {}, {b.randn({4, 9}), b.randn({4, 9})}, [](auto& in) { return mse_loss(in[0], in[1]); });
  b.run();
}

TEST(LossErrors, BadInputs) {
  const Tensor x = Tensor::ones({3, 5});
  test::expect_error([&] { cross_entropy(x, targets_of({0, 5, 1}, {3})); }, {"cross_entropy", "target 5", "[3, 5]"});
  test::expect_error([&] { cross_entropy(x, targets_of({0, -2, 1}, {3})); }, {"cross_entropy", "target -2"});
  test::expect_error([&] { cross_entropy(x, targets_of({0, 1}, {2})); }, {"cross_entropy", "[2]", "[3, 5]"});
  test::expect_error([&] { cross_entropy(x, Tensor::zeros({3})); }, {"cross_entropy", "f32"});
  test::expect_error([&] { cross_entropy(x, targets_of({0, 1, 1}, {3}), -100, 1.5); }, {"cross_entropy", "label_smoothing"});
  test::expect_error([&] { mse_loss(x, Tensor::ones({5, 3})); }, {"mse_loss", "[3, 5]", "[5, 3]"});
  test::expect_error([&] { mse_loss(x, Tensor::ones({3, 5}, DType::f64)); }, {"mse_loss", "dtype"});
}

TEST(Loss, CrossEntropyLargeLogitsF32) {
  // Logits around 1000 in f32: the loss and gradient must not lose precision to the magnitude of the max.
  Tensor x = Tensor::from_vector(std::vector<double>{1000, 1001, 1002, 999}, {1, 4}, DType::f32);
  x.set_requires_grad(true);
  Tensor l = cross_entropy(x, targets_of({2}, {1}));
  double z = 0;
  for (double v : {-2.0, -1.0, 0.0, -3.0}) z += std::exp(v);
  EXPECT_NEAR(l.item(), std::log(z), 1e-6);
  l.backward();
  const std::vector<double> g = x.grad().to_vector();
  EXPECT_NEAR(g[2], std::exp(0.0) / z - 1.0, 1e-6);
  EXPECT_NEAR(g[0], std::exp(-2.0) / z, 1e-6);
}
