// Baselines by name: every listed name builds a predictor that runs, the curve labels, and unknown names.
#include "xfmr/baselines/catalog.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "baselines/solve_reference.h"
#include "xfmr/baselines/least_squares.h"
#include "xfmr/core/check.h"

using namespace xfmr;
using xfmr::test::randn_vec;

TEST(BaselineCatalog, EveryNameBuildsAndPredicts) {
  Generator g(9);
  const int64_t d = 3, k = 8;
  const std::vector<double> x = randn_vec(k * d, g), w = randn_vec(d, g), q = randn_vec(d, g);
  std::vector<double> y(k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < d; ++j) y[i] += x[i * d + j] * w[j];
  IclBaselineOptions opt;
  opt.net_steps = 50;
  opt.newton_iters = 30;
  const IclContext ctx{x.data(), y.data(), k, d};
  const double exact = LeastSquares()(ctx, q.data());
  for (const std::string& name : icl_baseline_names()) {
    IclPredictor p = make_icl_baseline(name, opt);
    const double v = p(ctx, q.data());
    EXPECT_TRUE(std::isfinite(v)) << name;
    EXPECT_EQ(p(IclContext{x.data(), y.data(), 0, d}, q.data()), 0.0) << name;  // empty context -> 0
    // The exact linear solvers agree with least squares on noiseless, over-determined data.
    if (name == "ridge" || name == "newton") {
      EXPECT_NEAR(v, exact, 1e-9) << name;
    }
  }
  EXPECT_EQ(icl_baseline_label("gd", opt), "gd10");
  EXPECT_EQ(icl_baseline_label("newton", opt), "newton30");
  EXPECT_EQ(icl_baseline_label("lasso", opt), "lasso");
  try {
    make_icl_baseline("svm", opt);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("svm"), std::string::npos) << m;
    EXPECT_NE(m.find("boosted_trees"), std::string::npos) << m;
  }
}
