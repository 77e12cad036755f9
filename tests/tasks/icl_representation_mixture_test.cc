// fixed_representation (Guo et al. 2023) and mixture (Yadlowsky et al. 2023) prompts: determinism, the fixed Φ
// shared by all prompts, label statistics, validation messages, and the ridge-on-Φ oracle.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "xfmr/baselines/catalog.h"
#include "support/errors.h"
#include "xfmr/core/check.h"
#include "xfmr/eval/error_curve.h"
#include "xfmr/tasks/icl_mixture.h"
#include "xfmr/tasks/icl_representation.h"
#include "xfmr/tasks/icl_task_baselines.h"
#include "xfmr/tasks/icl_tasks.h"

using namespace xfmr;
using xfmr::test::error_of;

namespace {
IclTaskParams rep_params(int64_t depth, int64_t width, double noise = 0.0, uint64_t seed = 1234) {
  IclTaskParams p;
  p.kind = "fixed_representation";
  p.phi_depth = depth;
  p.phi_width = width;
  p.phi_seed = seed;
  p.noise_std = noise;
  return p;
}
}  // namespace

TEST(IclRepresentation, DeterministicAndSharedAcrossPrompts) {
  const IclTaskParams p = rep_params(2, 6);
  Generator g1(5), g2(5), g3(6);
  const IclBatch a = sample_icl_task(p, 4, 7, 3, 3, g1), b = sample_icl_task(p, 4, 7, 3, 3, g2);
  EXPECT_EQ(a.xs.to_vector(), b.xs.to_vector());
  EXPECT_EQ(a.ys.to_vector(), b.ys.to_vector());
  // Another prompt stream uses the SAME Φ: y = w·Φ(x) with the returned read-out and Φ rebuilt from phi_seed.
  const IclRepresentation phi(3, 6, 2, 1234);
  Tensor w;
  const IclBatch c = sample_icl_fixed_representation(3, 5, 3, 3, phi, 0.0, g3, &w);
  std::vector<double> x(3), f(6), scratch(12);
  for (int64_t q = 0; q < 3; ++q)
    for (int64_t i = 0; i < 5; ++i) {
      for (int64_t j = 0; j < 3; ++j) x[j] = c.xs.at({q, i, j});
      phi.apply(x.data(), f.data(), scratch.data());
      double y = 0;
      for (int64_t j = 0; j < 6; ++j) y += w.at({q, j}) * f[j];
      EXPECT_NEAR(c.ys.at({q, i}), y, 1e-4 * (1 + std::fabs(y)));
    }
  // A different phi_seed is a different Φ (same x and w draws, different labels).
  Generator h1(9), h2(9);
  const IclBatch s1 = sample_icl_task(rep_params(2, 6, 0, 1), 2, 5, 3, 3, h1);
  const IclBatch s2 = sample_icl_task(rep_params(2, 6, 0, 2), 2, 5, 3, 3, h2);
  EXPECT_EQ(s1.xs.to_vector(), s2.xs.to_vector());
  EXPECT_NE(s1.ys.to_vector(), s2.ys.to_vector());
}

TEST(IclRepresentation, LabelScaleIsAboutWidthAndInactiveDimsAreZero) {
  // He-scaled layers keep E[Φ_j(x)²] ≈ 1, so E[y²] ≈ D (the class's error normaliser) at every depth.
  for (int64_t depth : {1, 2, 4}) {
    Generator g(11 + depth);
    const IclBatch b = sample_icl_task(rep_params(depth, 16), 400, 20, 8, 8, g);
    double s = 0;
    for (double y : b.ys.to_vector()) s += y * y;
    const double ratio = s / static_cast<double>(b.ys.numel()) / 16.0;
    EXPECT_GT(ratio, 0.4) << depth;
    EXPECT_LT(ratio, 2.5) << depth;
  }
  Generator g(3);
  const IclBatch b = sample_icl_task(rep_params(2, 4), 3, 4, 6, 2, g);
  for (int64_t q = 0; q < 3; ++q)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 2; j < 6; ++j) EXPECT_EQ(b.xs.at({q, i, j}), 0.0);
  EXPECT_EQ(icl_task_class("fixed_representation").error_normalizer(rep_params(2, 7), 5), 7);
}

TEST(IclRepresentation, ValidationNamesTheKey) {
  EXPECT_NE(error_of([] { validate_icl_task(rep_params(0, 5), 5, 11); }).find("task.phi_depth"), std::string::npos);
  EXPECT_NE(error_of([] { validate_icl_task(rep_params(2, 0), 5, 11); }).find("task.phi_width"), std::string::npos);
  EXPECT_NE(error_of([] { IclRepresentation(0, 3, 1, 1); }).find("IclRepresentation"), std::string::npos);
}

TEST(IclRepresentation, RidgeOnPhiIsExactOnceContextSpansPhi) {
  // Noise-free, depth 1, D = 4 < k: ridge (λ = 0) on the true Φ recovers w exactly; least squares on x cannot.
  const IclTaskParams p = rep_params(1, 4);
  Generator g(21);
  const IclBatch b = sample_icl_task(p, 50, 16, 3, 3, g);
  const IclTaskBaselineContext ctx{p, 3, 16};
  const ErrorCurve oracle = error_vs_k(make_icl_task_baseline("ridge_phi", ctx, {}), b, 4);
  const ErrorCurve ls = error_vs_k(make_icl_task_baseline("least_squares", ctx, {}), b, 4);
  EXPECT_LT(oracle.mean[12], 1e-6);
  EXPECT_LT(oracle.mean[15], 1e-6);
  EXPECT_GT(ls.mean[15], 1e-3);
  IclTaskParams lin;
  EXPECT_NE(error_of([&] { make_icl_task_baseline("ridge_phi", {lin, 3, 16}, {}); }).find("fixed_representation"),
            std::string::npos);
}

TEST(IclMixture, ParsesNormalisesAndRejects) {
  const auto c = parse_icl_mixture("linear:1,relu2nn:3");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].kind, "linear");
  EXPECT_DOUBLE_EQ(c[0].weight, 0.25);
  EXPECT_DOUBLE_EQ(c[1].weight, 0.75);
  for (const char* bad : {"", "linear", "linear:0", "linear:-1", "linear:x", "nope:1", "linear:1,linear:2",
                          "mixture:1", "linear:1,"}) {
    const std::string m = error_of([&] { parse_icl_mixture(bad); });
    EXPECT_NE(m.find("task.mixture"), std::string::npos) << bad << ": " << m;
  }
}

TEST(IclMixture, ComponentFrequenciesRowsAndDeterminism) {
  IclTaskParams p;
  p.kind = "mixture";
  p.mixture = "linear:0.3,decision_tree:0.7";
  Generator g1(4), g2(4);
  std::vector<int64_t> which, which2;
  const IclBatch a = sample_icl_mixture(p, 2000, 6, 4, 4, g1, &which);
  const IclBatch b = sample_icl_mixture(p, 2000, 6, 4, 4, g2, &which2);
  EXPECT_EQ(which, which2);
  EXPECT_EQ(a.ys.to_vector(), b.ys.to_vector());
  int64_t lin = 0;
  for (int64_t v : which) lin += v == 0;
  // Binomial(2000, 0.3): sd ≈ 20.5; 5 sd.
  EXPECT_NEAR(static_cast<double>(lin), 600.0, 103.0);
  // Linear rows satisfy y = w·x with their stored w; tree rows have w = 0 and labels among few leaf values.
  for (int64_t q = 0; q < 50; ++q) {
    if (which[q] == 0) {
      for (int64_t i = 0; i < 6; ++i) {
        double y = 0;
        for (int64_t j = 0; j < 4; ++j) y += a.w.at({q, j}) * a.xs.at({q, i, j});
        EXPECT_NEAR(a.ys.at({q, i}), y, 1e-4 * (1 + std::fabs(y)));
      }
    } else {
      for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(a.w.at({q, j}), 0.0);
    }
  }
  // Through the registry: same draws as sample_icl_mixture; normaliser = weighted mean (0.3·4 + 0.7·1 → 2).
  Generator g3(4);
  EXPECT_EQ(sample_icl_task(p, 2000, 6, 4, 4, g3).ys.to_vector(), a.ys.to_vector());
  EXPECT_EQ(icl_task_class("mixture").error_normalizer(p, 4), 2);
  const auto bl = icl_task_baselines(p);
  for (const char* n : {"least_squares", "ridge", "gd", "greedy_tree", "boosted_trees"})
    EXPECT_NE(std::find(bl.begin(), bl.end(), n), bl.end()) << n;
  // A component's own parameters are validated through the mixture.
  p.mixture = "sparse_linear:1";
  p.sparsity = 9;
  EXPECT_NE(error_of([&] { validate_icl_task(p, 4, 6); }).find("task.sparsity"), std::string::npos);
}
