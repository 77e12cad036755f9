#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/ops/conv1d.h"

using namespace xfmr;
using test::expect_gradcheck;

TEST(Conv1dGrad, WithAndWithoutBias) {
  auto with_bias = [](auto& in) { return causal_depthwise_conv1d(in[0], in[1], in[2]); };
  auto no_bias = [](auto& in) { return causal_depthwise_conv1d(in[0], in[1]); };
  expect_gradcheck(with_bias, {test::random_input({2, 6, 3}, 1), test::random_input({3, 4}, 2), test::random_input({3}, 3)});
  expect_gradcheck(no_bias, {test::random_input({2, 6, 3}, 1), test::random_input({3, 4}, 2)});
  expect_gradcheck(with_bias, {test::random_input({1, 5, 2}, 4), test::random_input({2, 1}, 5), test::random_input({2}, 6)});  // K = 1
  expect_gradcheck(with_bias, {test::random_input({2, 3, 2}, 7), test::random_input({2, 5}, 8), test::random_input({2}, 9)});  // K > T
  // Non-contiguous x ([B, C, T] transposed, the layout after a linear projection's transpose) and weight.
  expect_gradcheck(no_bias, {test::random_transposed_input({2, 5, 3}, 10), test::random_transposed_input({3, 4}, 11)});
}

TEST(Conv1d, ManualExample) {
  // One channel, K = 3, weight [1, 2, 3]: y_t = 1 x_{t-2} + 2 x_{t-1} + 3 x_t + bias.
  const std::vector<double> x{1, 10, 100, 1000}, w{1, 2, 3}, b{0.5};
  const Tensor y = causal_depthwise_conv1d(Tensor::from_vector(std::span<const double>(x), {1, 4, 1}, DType::f64),
                                           Tensor::from_vector(std::span<const double>(w), {1, 3}, DType::f64),
                                           Tensor::from_vector(std::span<const double>(b), {1}, DType::f64));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{3.5, 32.5, 321.5, 3210.5}));
}

TEST(Conv1dParity, Torch) {
  test::ParityBatch b;
  b.add("conv1d_bias", "causal_depthwise_conv1d", {}, {b.randn({2, 20, 70}), b.randn({70, 4}), b.randn({70})},
        [](auto& in) { return causal_depthwise_conv1d(in[0], in[1], in[2]); });
  b.add("conv1d_nobias", "causal_depthwise_conv1d", {}, {b.randn({3, 9, 5}), b.randn({5, 3})},
        [](auto& in) { return causal_depthwise_conv1d(in[0], in[1]); });
  b.add("conv1d_K>T", "causal_depthwise_conv1d", {}, {b.randn({1, 5, 3}), b.randn({3, 6}), b.randn({3})},
        [](auto& in) { return causal_depthwise_conv1d(in[0], in[1], in[2]); });
  b.run();
}

TEST(Conv1d, BadInput) {
  auto expect_error = [](auto f, const char* needle) { test::expect_error(f, {"causal_depthwise_conv1d", needle}); };
  const Tensor x = Tensor::zeros({2, 5, 4});
  expect_error([&] { causal_depthwise_conv1d(x, Tensor::zeros({3, 2})); }, "[3, 2]");        // C mismatch
  expect_error([&] { causal_depthwise_conv1d(x, Tensor::zeros({4, 0})); }, "K >= 1");
  expect_error([&] { causal_depthwise_conv1d(x, Tensor::zeros({4, 1, 3})); }, "[4, 1, 3]");  // torch's 3-d weight
  expect_error([&] { causal_depthwise_conv1d(x, Tensor::zeros({4, 3}), Tensor::zeros({5})); }, "[5]");
  expect_error([&] { causal_depthwise_conv1d(Tensor::zeros({5, 4}), Tensor::zeros({4, 3})); }, "[5, 4]");
  expect_error([&] { causal_depthwise_conv1d(x, Tensor::zeros({4, 3}, DType::f64)); }, "dtype");
}
