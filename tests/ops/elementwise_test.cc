#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "support/errors.h"
#include "support/gradcheck.h"
#include "support/input_shaping.h"
#include "support/torch_parity.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/loops.h"
#include "xfmr/kernels/ref/elementwise.h"
#include "xfmr/ops/activation.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

using xfmr::test::expect_error;

using namespace xfmr;
using test::expect_gradcheck;
using test::random_input;
using test::random_transposed_input;

namespace {

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

// A leaf of the given shape: contiguous, or (transposed = true) a non-contiguous transposed view.
Tensor leaf(const Shape& s, uint64_t seed, bool transposed, double min_abs = 0.0) {
  return transposed ? random_transposed_input(s, seed, min_abs) : random_input(s, seed, min_abs);
}

struct Layout {
  Shape a, b;
  bool ta = false, tb = false;  // transposed (non-contiguous) operand
};

// Same shape, row / column / two-sided / scalar / middle broadcasts, and non-contiguous operands.
const Layout kLayouts[] = {
    {{3, 4}, {3, 4}},
    {{2, 3, 4}, {4}},
    {{2, 3, 4}, {2, 3, 1}},
    {{3, 1}, {1, 4}},
    {{}, {2, 3}},
    {{2, 3}, {}},
    {{2, 1, 4}, {2, 3, 4}},
    {{3, 4}, {3, 4}, true},
    {{3, 4}, {3, 4}, false, true},
    {{2, 3, 4}, {3, 4}, false, true},
    {{4, 3}, {3}, true},
    {{5}, {2, 5}},
};

// Gradchecks f over every layout; b is kept at least b_min_abs from 0; a_positive makes a > 0.
void gradcheck_binary(const BinaryFn& f, double b_min_abs = 0.0, bool a_positive = false) {
  uint64_t seed = 10;
  for (const Layout& l : kLayouts) {
    SCOPED_TRACE("a " + l.a.str() + (l.ta ? " (transposed)" : "") + ", b " + l.b.str() +
                 (l.tb ? " (transposed)" : ""));
    Tensor a = leaf(l.a, seed++, l.ta), b = leaf(l.b, seed++, l.tb, b_min_abs);
    if (a_positive) test::make_positive(a);
    expect_gradcheck([&](auto& in) { return f(in[0], in[1]); }, {a, b});
  }
}

}  // namespace

// ---------------------------------------------------------------- gradients (f64 finite differences)

TEST(ElementwiseGrad, Add) {
  gradcheck_binary([](auto& a, auto& b) { return add(a, b); });
}
TEST(ElementwiseGrad, Sub) {
  gradcheck_binary([](auto& a, auto& b) { return sub(a, b); });
}
TEST(ElementwiseGrad, Mul) {
  gradcheck_binary([](auto& a, auto& b) { return mul(a, b); });
}
TEST(ElementwiseGrad, Div) {
  gradcheck_binary([](auto& a, auto& b) { return div(a, b); }, 0.5);
}
TEST(ElementwiseGrad, PowTensor) {
  gradcheck_binary([](auto& a, auto& b) { return pow(a, b); }, 0.0, true);
}

TEST(ElementwiseGrad, Operators) {
  gradcheck_binary([](auto& a, auto& b) { return (a + b) * a - b / (b * b + 1.0); });
  expect_gradcheck(
      [](auto& in) { return -in[0] + 2.0 * in[0] - 3.0 + (1.5 - in[0]) / 4.0 + 1.0 + in[0] * 0.5; },
      {random_transposed_input({3, 4}, 3)});
  expect_gradcheck([](auto& in) { return 2.0 / in[0]; }, {random_input({3, 4}, 4, 0.5)});
}

TEST(ElementwiseGrad, ScalarForms) {
  for (bool t : {false, true}) {
    SCOPED_TRACE(t ? "transposed" : "contiguous");
    expect_gradcheck([](auto& in) { return add(in[0], 1.5); }, {leaf({3, 4}, 1, t)});
    expect_gradcheck([](auto& in) { return mul(in[0], -2.5); }, {leaf({3, 4}, 2, t)});
    expect_gradcheck([](auto& in) { return sub(in[0], 0.5); }, {leaf({3, 4}, 3, t)});
    expect_gradcheck([](auto& in) { return rsub(in[0], 0.5); }, {leaf({3, 4}, 4, t)});
    expect_gradcheck([](auto& in) { return div(in[0], 3.0); }, {leaf({3, 4}, 5, t)});
    expect_gradcheck([](auto& in) { return rdiv(in[0], 3.0); }, {leaf({3, 4}, 6, t, 0.5)});
  }
}

TEST(ElementwiseGrad, PowScalar) {
  for (double e : {2.0, 3.0, 1.0, 0.5, -1.5, 2.7, 0.0}) {
    SCOPED_TRACE("exponent " + std::to_string(e));
    Tensor x = random_transposed_input({3, 4}, 7);
    test::make_positive(x);
    expect_gradcheck([e](auto& in) { return pow(in[0], e); }, {x});
  }
  // Integer exponents on negative bases.
  expect_gradcheck([](auto& in) { return pow(in[0], 2.0) + pow(in[0], 3.0); }, {random_input({5}, 8)});
}

TEST(ElementwiseGrad, Unary) {
  for (bool t : {false, true}) {
    SCOPED_TRACE(t ? "transposed" : "contiguous");
    expect_gradcheck([](auto& in) { return neg(in[0]); }, {leaf({3, 4}, 1, t)});
    expect_gradcheck([](auto& in) { return exp(in[0]); }, {leaf({3, 4}, 2, t)});
    Tensor p = leaf({3, 4}, 3, t);
    test::make_positive(p);
    expect_gradcheck([](auto& in) { return log(in[0]); }, {p});
    expect_gradcheck([](auto& in) { return sqrt(in[0]); }, {p});
    expect_gradcheck([](auto& in) { return rsqrt(in[0]); }, {p});
    expect_gradcheck([](auto& in) { return abs(in[0]); }, {leaf({3, 4}, 4, t, 0.1)});
    Tensor c = leaf({4, 5}, 5, t);
    test::avoid_points(c, {-0.5, 0.7}, 0.05);
    expect_gradcheck([](auto& in) { return clamp(in[0], -0.5, 0.7); }, {c});
  }
}

TEST(ElementwiseGrad, Where) {
  Generator g(3);
  // Integer condition broadcast over a, b a 0-d tensor.
  Tensor cond = randint(0, 2, {3, 1}, DType::i64, g);
  expect_gradcheck([&](auto& in) { return where(cond, in[0], in[1]); },
                   {random_input({2, 3, 4}, 1), random_input({}, 2)});
  // Float condition of a's dtype, non-contiguous a, broadcast b.
  Tensor fc = randn({3, 4}, DType::f64, g);
  expect_gradcheck([&](auto& in) { return where(fc, in[0], in[1]); },
                   {random_transposed_input({3, 4}, 3), random_input({4}, 4)});
}

// ---------------------------------------------------------------- forward values and semantics

TEST(Elementwise, ForwardValuesAndBroadcastShape) {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector(std::vector<double>{10, 20, 30}, {3});
  EXPECT_EQ((a + b).to_vector(), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ((b - a).to_vector(), (std::vector<double>{9, 18, 27, 6, 15, 24}));
  Tensor col = Tensor::from_vector(std::vector<double>{2, 4}, {2, 1});
  EXPECT_EQ((a / col).to_vector(), (std::vector<double>{0.5, 1, 1.5, 1, 1.25, 1.5}));
  EXPECT_EQ((a * col).shape(), (Shape{2, 3}));
  EXPECT_EQ((col * b).shape(), (Shape{2, 3}));
  EXPECT_EQ((10.0 - a).to_vector(), (std::vector<double>{9, 8, 7, 6, 5, 4}));
  EXPECT_EQ((12.0 / a).at({1, 2}), 2.0);
  EXPECT_EQ(clamp(a, 2.5, 4.5).to_vector(), (std::vector<double>{2.5, 2.5, 3, 4, 4.5, 4.5}));
  EXPECT_EQ(clamp(a, 5, 3).to_vector(), (std::vector<double>(6, 3.0)));  // lo > hi gives hi (torch)
  Tensor cond = Tensor::from_vector(std::vector<int64_t>{1, 0, 7}, {3});
  EXPECT_EQ(where(cond, a, Tensor::scalar(-1)).to_vector(), (std::vector<double>{1, -1, 3, 4, -1, 6}));
  // A tiny nonzero f64 condition stays true for f32 operands.
  Tensor tiny = Tensor::from_vector(std::vector<double>{1e-300, 0}, {2}, DType::f64);
  EXPECT_EQ(where(tiny, Tensor::ones({2}), Tensor::zeros({2})).to_vector(), (std::vector<double>{1, 0}));
  // Empty tensors broadcast to empty outputs.
  EXPECT_EQ((Tensor::zeros({0, 3}) + b).shape(), (Shape{0, 3}));
}

TEST(Elementwise, NanAndZeroEdgeCases) {
  const double nan = std::nan("");
  Tensor x =
      Tensor::from_vector(std::vector<double>{nan, 0.0, -2.0}, {3}, DType::f64).set_requires_grad(true);
  Tensor c = clamp(x, -1, 1);
  EXPECT_TRUE(std::isnan(c.at({0})));
  EXPECT_EQ(c.at({2}), -1.0);
  // abs'(0) = 0 (torch), clamp' = 1 on the closed interval, pow(x, 0)' = 0 even at x = 0.
  Tensor x2 =
      Tensor::from_vector(std::vector<double>{0.0, 1.0, 2.0}, {3}, DType::f64).set_requires_grad(true);
  abs(x2).backward(Tensor::ones({3}, DType::f64));
  EXPECT_EQ(x2.grad().to_vector(), (std::vector<double>{0, 1, 1}));
  x2.set_grad(Tensor());
  clamp(x2, 1.0, 2.0).backward(Tensor::ones({3}, DType::f64));
  EXPECT_EQ(x2.grad().to_vector(), (std::vector<double>{0, 1, 1}));
  x2.set_grad(Tensor());
  pow(x2, 0.0).backward(Tensor::ones({3}, DType::f64));
  EXPECT_FALSE(x2.grad().defined());  // zero gradient: nothing flows
  // pow(a, b) with a == 0: the b-gradient is 0 (torch), the a-gradient b * a^(b-1).
  Tensor a = Tensor::from_vector(std::vector<double>{0.0, 0.0}, {2}, DType::f64).set_requires_grad(true);
  Tensor e = Tensor::from_vector(std::vector<double>{2.0, 0.0}, {2}, DType::f64).set_requires_grad(true);
  pow(a, e).backward(Tensor::ones({2}, DType::f64));
  EXPECT_EQ(e.grad().to_vector(), (std::vector<double>{0, 0}));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<double>{0, 0}));
}

// The coalesced fast loops must agree bit for bit with the scalar reference on every layout, in f32 and f64,
// including tensors big enough to be split across threads.
TEST(ElementwiseKernels, FastLoopsMatchReference) {
  const Layout layouts[] = {
      {{300, 257}, {300, 257}},
      {{300, 257}, {257}},
      {{300, 257}, {300, 1}},
      {{300, 257}, {}},
      {{257, 300}, {300}, true},
      {{7, 300, 33}, {7, 1, 33}},
      {{40, 1, 30}, {1, 50, 1}},
      {{3, 4}, {4}},
      {{300, 257}, {300, 257}, true, true},
  };
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Layout& l : layouts) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " a " + l.a.str() + ", b " + l.b.str());
      auto make = [dt](Shape s, bool transposed, uint64_t seed) {
        if (transposed) std::swap(s[s.size() - 1], s[s.size() - 2]);
        Tensor x = random_input(s, seed).detach().converted(dt);
        return transposed ? transpose(x, -1, -2) : x;
      };
      Tensor a = make(l.a, l.ta, 1), b = make(l.b, l.tb, 2);
      const Shape s = broadcast_shapes(a.shape(), b.shape(), "test");
      Tensor fast = Tensor::empty(s, dt), ref = Tensor::empty(s, dt);
      XF_DISPATCH_FLOAT(dt, "test", [&] {
        auto f = [](auto x, auto y) { return x * y - x / (y * y + 1); };
        kernels::binary<scalar_t>(fast, a, b, f);
        kernels::ref::binary<scalar_t>(ref, a, b, f);
      });
      EXPECT_EQ(fast.to_vector(), ref.to_vector());
      Tensor fu = Tensor::empty(a.shape(), dt), ru = Tensor::empty(a.shape(), dt);
      XF_DISPATCH_FLOAT(dt, "test", [&] {
        auto f = [](auto x) { return std::exp(x) * x; };
        kernels::unary<scalar_t>(fu, a, f);
        kernels::ref::unary<scalar_t>(ru, a, f);
      });
      EXPECT_EQ(fu.to_vector(), ru.to_vector());
    }
  }
}

TEST(ElementwiseKernels, ThreadCountDoesNotChangeResults) {
  Generator g(5);
  Tensor a = randn({513, 129}, DType::f32, g), b = randn({129}, DType::f32, g);
  const int saved = num_threads();
  set_num_threads(1);
  const std::vector<double> one = (a * b + a).to_vector();
  set_num_threads(4);
  const std::vector<double> four = (a * b + a).to_vector();
  set_num_threads(saved);
  EXPECT_EQ(one, four);
}

// ---------------------------------------------------------------- parity with PyTorch (f32)

TEST(ElementwiseParity, Torch) {
  test::ParityBatch b;
  auto pos = [&](const Shape& s) {
    Tensor t = b.randn(s);
    return test::make_positive(t);
  };
  const std::pair<Shape, Shape> shapes[] = {
      {{4, 5}, {4, 5}}, {{2, 3, 5}, {5}}, {{2, 3, 5}, {2, 3, 1}}, {{3, 1}, {1, 4}}, {{}, {3, 2}}};
  int i = 0;
  for (auto& [sa, sb] : shapes) {
    const std::string k = std::to_string(i++);
    b.add("add" + k, "ew_add", {}, {b.randn(sa), b.randn(sb)}, [](auto& in) { return in[0] + in[1]; });
    b.add("sub" + k, "ew_sub", {}, {b.randn(sa), b.randn(sb)}, [](auto& in) { return in[0] - in[1]; });
    b.add("mul" + k, "ew_mul", {}, {b.randn(sa), b.randn(sb)}, [](auto& in) { return in[0] * in[1]; });
    b.add("div" + k, "ew_div", {}, {b.randn(sa), pos(sb)}, [](auto& in) { return in[0] / in[1]; });
    b.add("pow" + k, "ew_pow", {}, {pos(sa), b.randn(sb)}, [](auto& in) { return pow(in[0], in[1]); });
  }
  b.add("add_s", "ew_add_scalar", {{"s", 0.3}}, {b.randn({3, 4})}, [](auto& in) { return in[0] + 0.3; });
  b.add("sub_s", "ew_sub_scalar", {{"s", 0.3}}, {b.randn({3, 4})}, [](auto& in) { return in[0] - 0.3; });
  b.add("rsub_s", "ew_rsub_scalar", {{"s", 0.3}}, {b.randn({3, 4})}, [](auto& in) { return 0.3 - in[0]; });
  b.add("mul_s", "ew_mul_scalar", {{"s", -1.7}}, {b.randn({3, 4})}, [](auto& in) { return -1.7 * in[0]; });
  b.add("div_s", "ew_div_scalar", {{"s", 7.0}}, {b.randn({3, 4})}, [](auto& in) { return in[0] / 7.0; });
  b.add("rdiv_s", "ew_rdiv_scalar", {{"s", 2.0}}, {pos({3, 4})}, [](auto& in) { return 2.0 / in[0]; });
  for (double e : {2.0, 3.0, 0.5, -0.5, 1.7}) {
    b.add("pow_s" + std::to_string(e), "ew_pow_scalar", {{"e", e}}, {pos({3, 4})},
          [e](auto& in) { return pow(in[0], e); });
  }
  b.add("neg", "ew_neg", {}, {b.randn({3, 4})}, [](auto& in) { return neg(in[0]); });
  b.add("exp", "ew_exp", {}, {b.randn({3, 4})}, [](auto& in) { return exp(in[0]); });
  b.add("log", "ew_log", {}, {pos({3, 4})}, [](auto& in) { return log(in[0]); });
  b.add("sqrt", "ew_sqrt", {}, {pos({3, 4})}, [](auto& in) { return sqrt(in[0]); });
  b.add("rsqrt", "ew_rsqrt", {}, {pos({3, 4})}, [](auto& in) { return rsqrt(in[0]); });
  b.add("abs", "ew_abs", {}, {b.randn({3, 4})}, [](auto& in) { return abs(in[0]); });
  b.add("clamp", "ew_clamp", {{"lo", -0.5}, {"hi", 0.8}}, {b.randn({6, 7})},
        [](auto& in) { return clamp(in[0], -0.5, 0.8); });
  b.add("where", "ew_where", {}, {b.randint(0, 2, {3, 1}), b.randn({2, 3, 4}), b.randn({4})},
        [](auto& in) { return where(in[0], in[1], in[2]); });
  b.run();
}

// ---------------------------------------------------------------- bad input

namespace {
}  // namespace

TEST(ElementwiseErrors, BadInput) {
  Tensor f32 = Tensor::ones({2, 3}), f64 = Tensor::ones({3}, DType::f64),
         i64 = Tensor::zeros({3}, DType::i64);
  expect_error([&] { add(f32, f64); }, {"add", "dtype mismatch", "[2, 3]", "[3]"});
  expect_error([&] { mul(f32, Tensor::ones({4})); }, {"mul", "[2, 3]", "[4]", "broadcast"});
  expect_error([&] { sub(f32, Tensor::ones({2, 2})); }, {"sub", "[2, 3]", "[2, 2]"});
  expect_error([&] { div(f32, f64); }, {"div", "dtype mismatch"});
  expect_error([&] { pow(f32, Tensor::ones({5})); }, {"pow", "[5]"});
  expect_error([&] { exp(i64); }, {"exp", "i64"});
  expect_error([&] { add(i64, i64); }, {"add", "i64"});
  expect_error([&] { mul(i64, 2.0); }, {"mul", "i64"});
  expect_error([&] { clamp(i64, 0, 1); }, {"clamp", "i64"});
  expect_error([&] { where(Tensor::ones({4}), f32, f32); }, {"where", "[4]", "[2, 3]"});
  expect_error([&] { where(Tensor::ones({3}), f32, f64); }, {"where", "dtype mismatch"});
  expect_error([&] { where(Tensor(), f32, f32); }, {"where", "undefined"});
  expect_error([&] { neg(Tensor()); }, {"neg", "undefined"});
}

// A repeated forward + backward through these ops reuses cached buffers: after the first step nothing reaches
// the system allocator (closures capture Tensors and Shapes only).
TEST(ElementwiseAlloc, SteadyStateStepReusesBuffers) {
  Generator g(9);
  Tensor x = randn({64, 48}, DType::f32, g), w = randn({48}, DType::f32, g),
         b = randn({64, 1}, DType::f32, g);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  auto step = [&] {
    Tensor h = gelu(x * w + b, GeluApprox::tanh);
    Tensor y = where(x, h, sigmoid(h)) / 3.0 - exp(clamp(h, -1, 1)) + pow(abs(h) + 1.0, 1.5);
    sum(mean(y, {0}) + max(y, 1, true) * var(y, {-1}, true)).backward();
  };
  step();
  step();
  const int64_t before = alloc_stats().system_allocs;
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(alloc_stats().system_allocs, before);
}
