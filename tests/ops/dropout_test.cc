#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "xfmr/core/parallel.h"
#include "xfmr/ops/dropout.h"
#include "xfmr/ops/view.h"

using namespace xfmr;
using test::expect_gradcheck;

namespace {

template <class F>
void expect_dropout_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected an xfmr::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& s : fragments)
      EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
  }
}

}  // namespace

// Fraction kept ~ Binomial(n, 1-p)/n: within 4 sigma; the mean of dropout(ones) is preserved (E = 1); every
// kept element is exactly 1/(1-p).
TEST(DropoutTest, Statistics) {
  const int64_t n = 100000;
  for (double p : {0.1, 0.5, 0.8}) {
    for (DType dt : {DType::f32, DType::f64}) {
      Generator g(1234);
      const std::vector<double> v = dropout(Tensor::ones({n}, dt), p, true, g).to_vector();
      const double scale =
          dt == DType::f32 ? static_cast<double>(static_cast<float>(1.0 / (1.0 - p))) : 1.0 / (1.0 - p);
      int64_t kept = 0;
      double sum = 0;
      for (double x : v) {
        if (x != 0) {
          ++kept;
          ASSERT_EQ(x, scale) << "p " << p;
        }
        sum += x;
      }
      const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(n));
      EXPECT_NEAR(static_cast<double>(kept) / n, 1 - p, 4 * sigma) << "p " << p << " " << dtype_name(dt);
      EXPECT_NEAR(sum / n, 1.0, 4 * sigma / (1 - p) + 1e-6) << "p " << p << " " << dtype_name(dt);
    }
  }
}

TEST(DropoutTest, SameSeedSameMask) {
  Tensor x = randn({64, 33});
  Generator g1(7), g2(7), g3(8);
  const auto a = dropout(x, 0.4, true, g1).to_vector();
  EXPECT_EQ(a, dropout(x, 0.4, true, g2).to_vector());
  EXPECT_NE(a, dropout(x, 0.4, true, g3).to_vector());
  // The generator advances: the next draw gives another mask.
  EXPECT_NE(a, dropout(x, 0.4, true, g1).to_vector());
  // A non-contiguous input uses the mask of its logical (row-major) order.
  Generator g4(7);
  Tensor xt = transpose(transpose(x, 0, 1).contiguous_copy(), 0, 1);
  ASSERT_FALSE(xt.is_contiguous());
  EXPECT_EQ(a, dropout(xt, 0.4, true, g4).to_vector());
}

TEST(DropoutTest, MaskIndependentOfThreadCount) {
  const int prev = num_threads();
  auto draw = [](int threads) {
    set_num_threads(threads);
    Generator g(99);
    return dropout(Tensor::ones({100000}), 0.3, true, g).to_vector();
  };
  const auto one = draw(1), two = draw(2);
  set_num_threads(prev);
  EXPECT_EQ(one, two);
}

TEST(DropoutTest, Gradcheck) {
  // Each evaluation re-seeds, so every forward draws the same mask.
  expect_gradcheck(
      [](auto& in) {
        Generator g(5);
        return dropout(in[0], 0.3, true, g);
      },
      {test::random_input({4, 5})});
  expect_gradcheck(
      [](auto& in) {
        Generator g(6);
        return dropout(in[0], 0.6, true, g);
      },
      {test::random_transposed_input({3, 2, 4})});
}

TEST(DropoutTest, GradientIsScaledMask) {
  Tensor x = Tensor::ones({1000}, DType::f64);
  x.set_requires_grad(true);
  Generator g(11);
  Tensor out = dropout(x, 0.25, true, g);
  out.backward(Tensor::ones({1000}, DType::f64));
  // With x = 1 the output is the scaled mask itself: keep / (1 - p).
  const auto m = out.to_vector(), gx = x.grad().to_vector();
  EXPECT_EQ(gx, m);
  for (double v : m) EXPECT_TRUE(v == 0.0 || v == 1.0 / 0.75);
}

TEST(DropoutTest, EvalAndZeroPAreIdentity) {
  Tensor x = test::random_input({3, 4});
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  // Identity does not consume random numbers.
  Generator g(3);
  dropout(x, 0.5, false, g);
  EXPECT_EQ(g.offset(), 0u);
}

TEST(DropoutTest, BadInput) {
  Tensor x = Tensor::ones({2, 3});
  expect_dropout_error([&] { dropout(x, 1.0, true); }, {"dropout", "[0, 1)", "[2, 3]"});
  expect_dropout_error([&] { dropout(x, -0.1, true); }, {"dropout", "-0.1", "[2, 3]"});
  expect_dropout_error([&] { dropout(x, std::nan(""), true); }, {"dropout", "[2, 3]"});
  expect_dropout_error([&] { dropout(x, 1.5, false); }, {"dropout", "1.5"});
  expect_dropout_error([&] { dropout(Tensor::ones({2}, DType::i64), 0.5, true); }, {"dropout", "i64"});
}
