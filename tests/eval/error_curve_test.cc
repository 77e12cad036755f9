#include "xfmr/eval/error_curve.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "xfmr/baselines/least_squares.h"
#include "xfmr/baselines/standard.h"
#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/ops/view.h"

using namespace xfmr;

namespace {
// P × n errors drawn from Exp(1) (mean 1, sd 1).
Tensor exp_errors(int64_t P, int64_t n, Generator& g) {
  std::vector<double> v(P * n);
  for (double& x : v) x = -std::log(1.0 - g.next_uniform());
  return Tensor::from_vector(std::span<const double>(v), {P, n}, DType::f64);
}
}  // namespace

// The zero predictor on noiseless prompts: error y²/d with E[y²] = E‖w‖² = d, so the true mean is 1 at every k.
TEST(ErrorCurve, ZeroPredictorKnownMean) {
  Generator g(1);
  const int64_t P = 2000, n = 6, d = 4;
  const IclBatch b = sample_icl_linear(P, n, d, d, 0.0, g);
  const IclPredictor zero = [](const IclContext&, const double*) { return 0.0; };
  const ErrorCurve c = error_vs_k(zero, b, d);
  ASSERT_EQ(c.mean.size(), static_cast<size_t>(n));
  const std::vector<double> ys = b.ys.to_vector();
  for (int64_t k = 0; k < n; ++k) {
    double s = 0.0, s2 = 0.0;
    for (int64_t p = 0; p < P; ++p) {
      const double e = ys[p * n + k] * ys[p * n + k] / d;
      s += e;
      s2 += e * e;
    }
    const double mean = s / P, se = std::sqrt((s2 / P - mean * mean) / (P - 1));
    EXPECT_NEAR(c.mean[k], mean, 1e-12);
    EXPECT_NEAR(c.mean[k], 1.0, 4.0 * se);  // y²/d ~ χ²-like with sd ≈ √2 … √(2+…): SE ≈ 0.04
    EXPECT_LT(c.lo[k], c.mean[k]);
    EXPECT_GT(c.hi[k], c.mean[k]);
    // A 90% interval spans about 2·1.645 standard errors.
    EXPECT_NEAR((c.hi[k] - c.lo[k]) / (2 * 1.645 * se), 1.0, 0.15) << "k=" << k;
  }
}

TEST(ErrorCurve, BootstrapCoverage) {
  // Exp(1) errors, P = 100, 200 resamples: over 200 independent data sets the 90% interval should cover the true mean 1 about
  // 90% of the time (the percentile method undercovers skewed data slightly; binomial sd 0.021).
  Generator g(2);
  int covered = 0;
  const int reps = 200;
  for (int r = 0; r < reps; ++r) {
    const ErrorCurve c = summarize_errors(exp_errors(100, 1, g), BootstrapOptions{200, 0.90, 1000u + r});
    covered += c.lo[0] <= 1.0 && 1.0 <= c.hi[0];
  }
  EXPECT_GE(covered, 0.80 * reps);
  EXPECT_LE(covered, 0.97 * reps);
}

TEST(ErrorCurve, WidthShrinksAsOneOverSqrtP) {
  Generator g(3);
  double w_small = 0.0, w_large = 0.0;
  for (int r = 0; r < 4; ++r) {
    const ErrorCurve a = summarize_errors(exp_errors(400, 1, g), BootstrapOptions{1000, 0.90, 10u + r});
    const ErrorCurve b = summarize_errors(exp_errors(1600, 1, g), BootstrapOptions{1000, 0.90, 20u + r});
    w_small += a.hi[0] - a.lo[0];
    w_large += b.hi[0] - b.lo[0];
  }
  EXPECT_NEAR(w_small / w_large, 2.0, 0.25);
  // Exp(1) has sd 1: the P = 1600 width is about 2·1.645/40 = 0.082.
  EXPECT_NEAR(w_large / 4, 2 * 1.645 / 40.0, 0.012);
}

TEST(ErrorCurve, ConstantErrorsAndDeterminism) {
  const Tensor e = Tensor::full({50, 3}, 0.25, DType::f64);
  const ErrorCurve c = summarize_errors(e);
  for (int k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(c.mean[k], 0.25);
    EXPECT_DOUBLE_EQ(c.lo[k], 0.25);
    EXPECT_DOUBLE_EQ(c.hi[k], 0.25);
  }
  Generator g(4);
  const Tensor r = exp_errors(300, 4, g);
  const ErrorCurve a = summarize_errors(r, BootstrapOptions{1000, 0.9, 5});
  const ErrorCurve b = summarize_errors(r, BootstrapOptions{1000, 0.9, 5});
  const ErrorCurve other = summarize_errors(r, BootstrapOptions{1000, 0.9, 6});
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_NE(a.lo, other.lo);
}

TEST(ErrorCurve, PrecomputedPredictionsMatchCallable) {
  Generator g(5);
  const int64_t P = 64, n = 9, d = 4;
  const IclBatch b = sample_icl_linear(P, n, d, d, 0.1, g);
  const Tensor pred = predict_all(LeastSquares(), b);
  EXPECT_EQ(pred.shape(), (Shape{P, n}));
  const ErrorCurve via_fn = error_vs_k(LeastSquares(), b, d);
  const ErrorCurve via_tensor = error_vs_k(pred, b, d);
  EXPECT_EQ(via_fn.mean, via_tensor.mean);
  EXPECT_EQ(via_fn.lo, via_tensor.lo);
  EXPECT_EQ(via_fn.hi, via_tensor.hi);
  // An f32, non-contiguous predictions tensor (as a model's outputs might be) is accepted.
  const Tensor pred_t = contiguous(transpose(pred, 0, 1)).converted(DType::f32);  // [n, P]
  const ErrorCurve via_view = error_vs_k(transpose(pred_t, 0, 1), b, d);
  for (int64_t k = 0; k < n; ++k) EXPECT_NEAR(via_view.mean[k], via_fn.mean[k], 1e-5 * (1 + via_fn.mean[k]));
  // Entry (p, k) of predict_all uses exactly the first k pairs.
  const std::vector<double> xs = b.xs.to_vector(), ys = b.ys.to_vector();
  LeastSquares ls;
  EXPECT_EQ(pred.at({3, 5}), ls(IclContext{xs.data() + 3 * n * d, ys.data() + 3 * n, 5, d}, xs.data() + (3 * n + 5) * d));
}

TEST(ErrorCurve, IndependentOfThreadCount) {
  Generator g(6);
  const IclBatch b = sample_icl_linear(200, 7, 3, 3, 0.0, g);
  const int saved = num_threads();
  set_num_threads(1);
  const ErrorCurve one = error_vs_k(LeastSquares(), b, 3);
  set_num_threads(2);
  const ErrorCurve two = error_vs_k(LeastSquares(), b, 3);
  set_num_threads(saved);
  EXPECT_EQ(one.mean, two.mean);
  EXPECT_EQ(one.lo, two.lo);
  EXPECT_EQ(one.hi, two.hi);
}

TEST(ErrorCurve, StandardBaselinesRun) {
  Generator g(7);
  const IclBatch b = sample_icl_linear(100, 11, 5, 5, 0.0, g);
  const auto bs = standard_baselines();
  ASSERT_EQ(bs.size(), 6u);
  for (const auto& nb : bs) {
    const ErrorCurve c = error_vs_k(nb.predict, b, 5);
    EXPECT_EQ(c.mean.size(), 11u) << nb.name;
    EXPECT_NEAR(c.mean[0], c.mean[0], 0.0) << nb.name;  // finite
    EXPECT_TRUE(std::isfinite(c.mean.back())) << nb.name;
  }
  // Least squares is exact once k >= d on noiseless prompts (up to the f32 rounding of y).
  const ErrorCurve ls = error_vs_k(bs[0].predict, b, 5);
  EXPECT_LT(ls.mean[10], 1e-6);
}

TEST(ErrorCurve, BadInput) {
  auto expect_msg = [](auto&& f, const std::string& what) {
    try {
      f();
      ADD_FAILURE() << "no throw for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  Generator g(8);
  const IclBatch b = sample_icl_linear(4, 5, 2, 2, 0.0, g);
  expect_msg([&] { error_vs_k(Tensor::zeros({4, 6}), b, 2); }, "squared_errors");
  expect_msg([&] { squared_errors(Tensor::zeros({4, 5}), b.ys, 0); }, "squared_errors");
  expect_msg([&] { summarize_errors(Tensor::zeros({0, 5})); }, "summarize_errors");
  expect_msg([&] { summarize_errors(Tensor::zeros({4, 5}), BootstrapOptions{1000, 1.5, 0}); }, "summarize_errors");
  IclBatch bad = b;
  bad.ys = Tensor::zeros({4, 4});
  expect_msg([&] { predict_all(LeastSquares(), bad); }, "predict_all");
}
