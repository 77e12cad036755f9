#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "support/errors.h"
#include "support/gradcheck.h"
#include "support/torch_parity.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/ref/reduce.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

using xfmr::test::expect_error;

using namespace xfmr;
using test::expect_gradcheck;

namespace {
Tensor leaf(const Shape& s, uint64_t seed, bool transposed) {
  return transposed ? test::random_transposed_input(s, seed) : test::random_input(s, seed);
}

struct DimsCase {
  Shape dims;
  bool keepdim;
};
// Last dim, leading dims, a middle dim, a non-adjacent pair (generic path), negative dims, all dims.
const DimsCase kDims[] = {{{-1}, false},   {{2}, true},      {{0}, false}, {{0, 1}, true},   {{1}, false},
                          {{0, 2}, false}, {{-3, -1}, true}, {{}, false},  {{0, 1, 2}, true}};

}  // namespace

TEST(ReduceGrad, SumMean) {
  expect_gradcheck([](auto& in) { return sum(in[0]); }, {leaf({3, 4}, 1, true)});
  expect_gradcheck([](auto& in) { return mean(in[0]); }, {leaf({2, 3, 4}, 2, false)});
  for (bool t : {false, true}) {
    for (const DimsCase& c : kDims) {
      SCOPED_TRACE("dims " + c.dims.str() + (c.keepdim ? " keepdim" : "") + (t ? " transposed" : ""));
      expect_gradcheck([&](auto& in) { return sum(in[0], c.dims, c.keepdim); }, {leaf({2, 3, 4}, 3, t)});
      expect_gradcheck([&](auto& in) { return mean(in[0], c.dims, c.keepdim); }, {leaf({2, 3, 4}, 4, t)});
    }
  }
}

TEST(ReduceGrad, Max) {
  for (bool t : {false, true}) {
    for (int dim : {-1, 0, 1}) {
      for (bool keep : {false, true}) {
        SCOPED_TRACE("dim " + std::to_string(dim) + (keep ? " keepdim" : "") + (t ? " transposed" : ""));
        expect_gradcheck([&](auto& in) { return max(in[0], dim, keep); }, {leaf({2, 3, 5}, 5, t)});
      }
    }
  }
}

TEST(ReduceGrad, Var) {
  for (bool t : {false, true}) {
    for (const DimsCase& c : kDims) {
      for (int64_t corr : {0, 1, 2}) {
        int64_t n = 1;
        for (int d = 0; d < 3; ++d) {
          bool reduced = c.dims.empty();
          for (int64_t e : c.dims) reduced = reduced || (e + 3) % 3 == d;
          if (reduced) n *= Shape{2, 3, 4}[d];
        }
        if (n <= corr) continue;  // inf/nan output (tested in ValuesShapesAndSemantics)
        SCOPED_TRACE("dims " + c.dims.str() + " correction " + std::to_string(corr) +
                     (t ? " transposed" : ""));
        expect_gradcheck([&](auto& in) { return var(in[0], c.dims, c.keepdim, corr); },
                         {leaf({2, 3, 4}, 6, t)});
      }
    }
  }
}

TEST(ReduceGrad, ReduceSumTo) {
  for (const Shape& target :
       {Shape{4}, Shape{3, 1}, Shape{1, 4}, Shape{2, 1, 4}, Shape{}, Shape{1, 1, 1}, Shape{2, 3, 4}}) {
    SCOPED_TRACE("target " + target.str());
    expect_gradcheck([&](auto& in) { return reduce_sum_to(in[0], target); }, {leaf({2, 3, 4}, 7, true)});
    Tensor g = leaf({2, 3, 4}, 8, false);
    EXPECT_EQ(reduce_sum_to(g, target).shape(), target);
    const std::vector<double> mine = reduce_sum_to(g, target).to_vector(),
                              theirs = sum_to(g, target).to_vector();
    ASSERT_EQ(mine.size(), theirs.size());
    for (size_t i = 0; i < mine.size(); ++i) EXPECT_NEAR(mine[i], theirs[i], 1e-12);
  }
}

TEST(Reduce, ValuesShapesAndSemantics) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 5, 3, 7, 2, 7}, {2, 3}, DType::f64);
  EXPECT_EQ(sum(x).shape(), Shape{});
  EXPECT_EQ(sum(x).item(), 25);
  EXPECT_EQ(sum(x, {1}).to_vector(), (std::vector<double>{9, 16}));
  EXPECT_EQ(sum(x, {0}, true).shape(), (Shape{1, 3}));
  EXPECT_EQ(mean(x, {-1}).to_vector(), (std::vector<double>{3, 16.0 / 3}));
  EXPECT_EQ(max(x, 1).to_vector(), (std::vector<double>{5, 7}));
  Tensor idx;
  EXPECT_EQ(max(x, 0, true, &idx).to_vector(), (std::vector<double>{7, 5, 7}));
  EXPECT_EQ(idx.to_int_vector(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(idx.shape(), (Shape{1, 3}));
  // torch.var([1, 5, 3]) = 4, with correction 0: 8/3.
  EXPECT_NEAR(var(x, {1}).at({0}), 4.0, 1e-15);
  EXPECT_NEAR(var(x, {1}, false, 0).at({0}), 8.0 / 3, 1e-15);
  // A single element with correction 1 divides by zero: nan (0/0), as torch.
  EXPECT_TRUE(std::isnan(var(Tensor::ones({1, 3}, DType::f64), {0}).at({0})));
  // A 0-d tensor: sum over dim 0 and max over dim -1 are the tensor itself (torch).
  Tensor s = Tensor::scalar(3.5, DType::f64);
  EXPECT_EQ(sum(s, {0}).item(), 3.5);
  EXPECT_EQ(max(s, -1).item(), 3.5);
  // Empty reductions: sum 0, mean nan.
  EXPECT_EQ(sum(Tensor::zeros({0, 3})).item(), 0);
  EXPECT_EQ(sum(Tensor::zeros({0, 3}), {0}).to_vector(), (std::vector<double>{0, 0, 0}));
  EXPECT_TRUE(std::isnan(mean(Tensor::zeros({0}, DType::f64)).item()));
}

TEST(Reduce, MaxTiesAndNan) {
  // The gradient goes to the first maximal index only.
  Tensor x =
      Tensor::from_vector(std::vector<double>{1, 3, 3, 2, 4, 4}, {2, 3}, DType::f64).set_requires_grad(true);
  max(x, 1).backward(Tensor::ones({2}, DType::f64));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 1, 0, 0, 1, 0}));
  Tensor y = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::f64).set_requires_grad(true);
  max(y, 0).backward(Tensor::ones({2}, DType::f64));
  EXPECT_EQ(y.grad().to_vector(), (std::vector<double>{0, 0, 1, 1}));
  // NaN is the maximum (torch.max propagates it), along rows and along columns.
  const double nan = std::nan("");
  Tensor z = Tensor::from_vector(std::vector<double>{1, nan, 5, 2, 3, 9}, {2, 3}, DType::f64);
  Tensor idx;
  Tensor m = max(z, 1, false, &idx);
  EXPECT_TRUE(std::isnan(m.at({0})));
  EXPECT_EQ(m.at({1}), 9);
  EXPECT_EQ(idx.to_int_vector(), (std::vector<int64_t>{1, 2}));
  Tensor mc = max(z, 0, false, &idx);
  EXPECT_TRUE(std::isnan(mc.at({1})));
  EXPECT_EQ(idx.to_int_vector(), (std::vector<int64_t>{1, 0, 1}));
  // Long rows take the vectorised two-pass kernel: ties resolve to the first index, a NaN anywhere wins.
  std::vector<double> v(300);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<double>(i));
  v[37] = v[101] = 5.0;  // row 0: tie between 37 and 101
  v[150 + 70] = 9.0;     // row 1: a larger value before the NaN
  v[150 + 90] = nan;
  Tensor w = Tensor::from_vector(v, {2, 150}, DType::f32);
  Tensor wm = max(w, 1, false, &idx);
  EXPECT_EQ(idx.to_int_vector(), (std::vector<int64_t>{37, 90}));
  EXPECT_EQ(wm.at({0}), 5.0);
  EXPECT_TRUE(std::isnan(wm.at({1})));
}

// Every kernel path (long row split across threads, many rows, column sums with K split into partials, middle
// dims, generic strided) against the double-precision reference, in f32 and f64.
TEST(ReduceKernels, MatchReference) {
  struct Case {
    Shape shape;
    Shape dims;
  };
  const Case cases[] = {
      {{200000}, {0}},         {{300, 129}, {-1}},     {{4096, 65}, {0}},       {{3, 5000, 17}, {1}},
      {{64, 40, 33}, {1}},     {{20, 30, 40}, {0, 2}}, {{2, 3000, 16}, {0, 1}}, {{7, 11}, {0}},
      {{1, 1000, 1, 70}, {1}}, {{5, 1, 7}, {1}},
  };
  const int saved = num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    for (DType dt : {DType::f32, DType::f64}) {
      for (const Case& c : cases) {
        for (bool t : {false, true}) {
          SCOPED_TRACE(std::string(dtype_name(dt)) + " shape " + c.shape.str() + " dims " + c.dims.str() +
                       (t ? " transposed" : "") + " threads " + std::to_string(threads));
          if (t && c.shape.size() < 2) continue;
          Tensor x = leaf(c.shape, 11, t).detach();
          if (dt == DType::f32) {
            Shape s = c.shape;
            if (t) std::swap(s[s.size() - 1], s[s.size() - 2]);
            x = test::random_input(s, 11).detach().converted(DType::f32);
            if (t) x = transpose(x, -1, -2);
          }
          Tensor mine = sum(x, c.dims, true);
          Tensor ref = Tensor::empty(mine.shape(), dt);
          XF_DISPATCH_FLOAT(dt, "test", [&] { kernels::ref::sum_to_shape<scalar_t>(ref, x); });
          const double tol = dt == DType::f32 ? 2e-6 : 1e-13;
          const std::vector<double> a = mine.to_vector(), b = ref.to_vector();
          double scale = 1;
          for (double v : b) scale = std::max(scale, std::fabs(v));
          double err = 0;
          for (size_t i = 0; i < a.size(); ++i) err = std::max(err, std::fabs(a[i] - b[i]));
          EXPECT_LT(err / scale, tol);
        }
      }
    }
  }
  set_num_threads(saved);
}

TEST(ReduceParity, Torch) {
  test::ParityBatch b;
  b.add("sum_all", "red_sum_all", {}, {b.randn({3, 4, 5})}, [](auto& in) { return sum(in[0]); });
  b.add("mean_all", "red_mean_all", {}, {b.randn({3, 4, 5})}, [](auto& in) { return mean(in[0]); });
  int i = 0;
  for (const DimsCase& c : kDims) {
    if (c.dims.empty())
      continue;  // torch's empty dim list means "all" for sum but is deprecated; covered above
    const std::string k = std::to_string(i++);
    const std::vector<int64_t> dims(c.dims.begin(), c.dims.end());
    b.add("sum" + k, "red_sum", {{"dims", dims}, {"keepdim", c.keepdim}}, {b.randn({3, 4, 5})},
          [c](auto& in) { return sum(in[0], c.dims, c.keepdim); });
    b.add("mean" + k, "red_mean", {{"dims", dims}, {"keepdim", c.keepdim}}, {b.randn({3, 4, 5})},
          [c](auto& in) { return mean(in[0], c.dims, c.keepdim); });
    for (int64_t corr : {0, 1}) {
      b.add("var" + k + "_" + std::to_string(corr), "red_var",
            {{"dims", dims}, {"keepdim", c.keepdim}, {"correction", corr}}, {b.randn({3, 4, 5})},
            [c, corr](auto& in) { return var(in[0], c.dims, c.keepdim, corr); });
    }
  }
  for (int dim : {-1, 0, 1, 2}) {
    for (bool keep : {false, true}) {
      b.add("max" + std::to_string(dim) + (keep ? "k" : ""), "red_max", {{"dim", dim}, {"keepdim", keep}},
            {b.randn({3, 4, 5})}, [dim, keep](auto& in) { return max(in[0], dim, keep); });
    }
  }
  // Sizes that take the threaded kernels: bias-gradient style column sums and long rows.
  b.add("sum_cols_big", "red_sum", {{"dims", {0}}, {"keepdim", false}}, {b.randn({1024, 96})},
        [](auto& in) { return sum(in[0], {0}); });
  b.add("mean_rows_big", "red_mean", {{"dims", {-1}}, {"keepdim", true}}, {b.randn({64, 1024})},
        [](auto& in) { return mean(in[0], {-1}, true); });
  b.add("var_rows_big", "red_var", {{"dims", {-1}}, {"keepdim", false}, {"correction", 1}},
        {b.randn({64, 1024})}, [](auto& in) { return var(in[0], {-1}); });
  b.run();
}

TEST(ReduceErrors, BadInput) {
  Tensor x = Tensor::ones({2, 3});
  expect_error([&] { sum(x, {1, -1}); }, {"sum", "repeated", "[2, 3]"});
  expect_error([&] { mean(x, {0, 0}); }, {"mean", "repeated"});
  expect_error([&] { var(x, {2}); }, {"var", "out of range"});
  expect_error([&] { sum(x, {-3}); }, {"sum", "out of range"});
  expect_error([&] { max(x, 2); }, {"max", "out of range"});
  expect_error([&] { max(Tensor::ones({2, 0}), 1); }, {"max", "size 0", "[2, 0]"});
  expect_error([&] { sum(Tensor::zeros({3}, DType::i64)); }, {"sum", "i64"});
  expect_error([&] { max(Tensor::zeros({3}, DType::i32), 0); }, {"max", "i32"});
  expect_error([&] { reduce_sum_to(x, {4, 2, 3}); }, {"sum_to", "[2, 3]"});
  expect_error([&] { reduce_sum_to(x, {2}); }, {"sum_to", "[2]", "[2, 3]"});
  expect_error([&] { mean(Tensor()); }, {"mean", "undefined"});
}
