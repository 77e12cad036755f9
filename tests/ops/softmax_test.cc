#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"
#include "support/strided_inputs.h"
#include "support/torch_parity.h"
#include "xfmr/ops/softmax.h"

using namespace xfmr;
using test::expect_gradcheck;
using test::random_input;

TEST(SoftmaxGrad, AllDims) {
  for (int dim : {-1, 0, 1, 2}) {
    SCOPED_TRACE(dim);
    expect_gradcheck([dim](auto& in) { return softmax(in[0], dim); }, {random_input({2, 3, 5}, 1)});
    expect_gradcheck([dim](auto& in) { return log_softmax(in[0], dim); }, {random_input({2, 3, 5}, 2)});
    expect_gradcheck([dim](auto& in) { return softmax(in[0], dim); }, {test::random_transposed_input({2, 3, 5}, 3)});
    expect_gradcheck([dim](auto& in) { return log_softmax(in[0], dim); }, {test::random_strided_input({2, 3, 5}, 4)});
  }
  expect_gradcheck([](auto& in) { return softmax(in[0], 0); }, {random_input({11}, 5)});
}

TEST(Softmax, StableForLargeInputs) {
  Tensor x = Tensor::from_vector(std::vector<double>{1000, 1001, 1002, -1000}, {1, 4}, DType::f32);
  std::vector<double> p = softmax(x, -1).to_vector(), lp = log_softmax(x, -1).to_vector();
  double s = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    EXPECT_TRUE(std::isfinite(p[i]) && std::isfinite(lp[i]));
    s += p[i];
  }
  EXPECT_NEAR(s, 1.0, 1e-6);
  EXPECT_NEAR(lp[2], -std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-5);
}

TEST(SoftmaxParity, Torch) {
  test::ParityBatch b;
  b.add("softmax_last", "softmax", {{"dim", -1}}, {b.randn({4, 6, 50}, DType::f32, 3.0)},
        [](auto& in) { return softmax(in[0], -1); });
  b.add("softmax_dim0", "softmax", {{"dim", 0}}, {b.randn({5, 3, 4})}, [](auto& in) { return softmax(in[0], 0); });
  b.add("softmax_dim1", "softmax", {{"dim", 1}}, {b.randn({5, 3, 4})}, [](auto& in) { return softmax(in[0], 1); });
  b.add("log_softmax_last", "log_softmax", {{"dim", -1}}, {b.randn({8, 33}, DType::f32, 3.0)},
        [](auto& in) { return log_softmax(in[0], -1); });
  b.add("log_softmax_dim1", "log_softmax", {{"dim", 1}}, {b.randn({2, 7, 3})}, [](auto& in) { return log_softmax(in[0], 1); });
  b.add("softmax_transposed", "softmax", {{"dim", -1}}, {test::transposed_leaf(b.randn({9, 4}))},
        [](auto& in) { return softmax(in[0], -1); });
  b.add("softmax_big", "softmax", {{"dim", -1}}, {b.randn({300, 64})}, [](auto& in) { return softmax(in[0], -1); });
  b.run();
}

TEST(SoftmaxErrors, BadInputs) {
  test::expect_error([] { softmax(Tensor::ones({2, 3}), 2); }, {"softmax", "2"});
  test::expect_error([] { log_softmax(Tensor::ones({2, 3}), -3); }, {"log_softmax"});
  test::expect_error([] { softmax(Tensor::ones({2, 3}, DType::i64), -1); }, {"softmax", "i64"});
}

