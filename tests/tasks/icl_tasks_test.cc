// The function-class registry and its samplers: shapes, determinism per seed, the curriculum's zeroed
// coordinates, labels recomputed from the returned parameters, and the distributions' moments.
#include "xfmr/tasks/icl_tasks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "support/errors.h"
#include "xfmr/core/check.h"
#include "xfmr/tasks/icl_linear_variants.h"
#include "xfmr/tasks/icl_nonlinear.h"

using namespace xfmr;
using xfmr::test::error_of;

namespace {
IclTaskParams kind(const std::string& k) {
  IclTaskParams p;
  p.kind = k;
  if (k == "noisy_linear") p.noise_std = 0.5;
  return p;
}

}  // namespace

TEST(IclTasks, RegistryListsClassesAndRejectsUnknown) {
  std::vector<std::string> names;
  for (const auto& c : icl_task_classes()) {
    if (c.metric == IclMetric::squared_error) names.push_back(c.name);  // Boolean ones: icl_boolean_test.cc
    EXPECT_FALSE(c.description.empty()) << c.name;
    IclTaskParams p;
    p.kind = c.name;
    EXPECT_FALSE(icl_task_baselines(p).empty()) << c.name;  // a mixture's are its components'
  }
  EXPECT_EQ(names, (std::vector<std::string>{"linear", "noisy_linear", "sparse_linear", "ill_conditioned_linear",
                                             "decision_tree", "relu2nn", "fixed_representation", "mixture"}));
  const std::string msg = error_of([] { icl_task_class("quadratic"); });
  EXPECT_NE(msg.find("quadratic"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sparse_linear"), std::string::npos) << msg;
  EXPECT_NE(msg.find("relu2nn"), std::string::npos) << msg;
  // Baselines per class follow Garg et al.'s figures.
  auto has = [](const std::string& k, const std::string& b) {
    IclTaskParams p;
    p.kind = k;
    const std::vector<std::string> v = icl_task_baselines(p);
    return std::find(v.begin(), v.end(), b) != v.end();
  };
  for (const auto& c : icl_task_classes())
    for (const char* b : {"least_squares", "averaging", "knn3"})
      EXPECT_TRUE(c.metric == IclMetric::accuracy || has(c.name, b)) << c.name << " " << b;
  EXPECT_TRUE(has("sparse_linear", "lasso"));
  EXPECT_TRUE(has("ill_conditioned_linear", "newton"));
  EXPECT_TRUE(has("decision_tree", "greedy_tree"));
  EXPECT_TRUE(has("decision_tree", "boosted_trees"));
  EXPECT_TRUE(has("relu2nn", "relu_net"));
  EXPECT_TRUE(has("fixed_representation", "ridge_phi"));
}

TEST(IclTasks, ValidationGivesReasons) {
  auto bad = [](IclTaskParams p, const char* key) {
    const std::string msg = error_of([&] { validate_icl_task(p, 5, 11); });
    EXPECT_NE(msg.find(key), std::string::npos) << key << ": '" << msg << "'";
  };
  IclTaskParams p = kind("sparse_linear");
  p.sparsity = 6;  // > d
  bad(p, "task.sparsity must be in [1, d = 5]");
  p.sparsity = 0;
  bad(p, "task.sparsity");
  p = kind("ill_conditioned_linear");
  p.kappa = 0.5;
  bad(p, "task.kappa");
  p = kind("noisy_linear");
  p.noise_std = 0.0;
  bad(p, "task.noise_std must be > 0");
  p = kind("decision_tree");
  p.tree_depth = 17;
  bad(p, "task.tree_depth");
  p = kind("relu2nn");
  p.hidden = 0;
  bad(p, "task.hidden");
  p = kind("tree");
  bad(p, "unknown function class 'tree'");
  for (const auto& c : icl_task_classes()) EXPECT_NO_THROW(validate_icl_task(kind(c.name), 5, 11)) << c.name;
}

// The registry's linear class is sample_icl_linear itself: the default run's prompts are unchanged.
TEST(IclTasks, LinearIsBitIdenticalToSampleIclLinear) {
  for (const char* k : {"linear", "noisy_linear"}) {
    const IclTaskParams p = kind(k);
    Generator g1(11), g2(11);
    const IclBatch a = sample_icl_task(p, 7, 9, 5, 3, g1);
    const IclBatch b = sample_icl_linear(7, 9, 5, 3, p.noise_std, g2);
    EXPECT_EQ(a.xs.to_vector(), b.xs.to_vector());
    EXPECT_EQ(a.ys.to_vector(), b.ys.to_vector());
    EXPECT_EQ(a.w.to_vector(), b.w.to_vector());
    EXPECT_EQ(g1.offset(), g2.offset());
  }
}

// Every class: shapes, determinism per seed, a different seed differs, and x is zero beyond active_dims.
TEST(IclTasks, EveryClassIsDeterministicAndCurriculumCompatible) {
  for (const auto& c : icl_task_classes()) {
    const IclTaskParams p = kind(c.name);
    const int64_t B = 6, n = 8, d = 5, active = 3;
    Generator g1(5), g2(5), g3(6);
    const IclBatch a = sample_icl_task(p, B, n, d, active, g1);
    const IclBatch b = sample_icl_task(p, B, n, d, active, g2);
    const IclBatch e = sample_icl_task(p, B, n, d, active, g3);
    EXPECT_EQ(a.xs.shape(), (Shape{B, n, d})) << c.name;
    EXPECT_EQ(a.ys.shape(), (Shape{B, n})) << c.name;
    EXPECT_EQ(a.w.shape(), (Shape{B, d})) << c.name;
    EXPECT_EQ(a.xs.to_vector(), b.xs.to_vector()) << c.name;
    EXPECT_EQ(a.ys.to_vector(), b.ys.to_vector()) << c.name;
    EXPECT_NE(a.ys.to_vector(), e.ys.to_vector()) << c.name;
    for (int64_t q = 0; q < B; ++q)
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = active; j < d; ++j) EXPECT_EQ(a.xs.at({q, i, j}), 0.0) << c.name;
        for (int64_t j = 0; j < active; ++j) EXPECT_NE(a.xs.at({q, i, j}), 0.0) << c.name;
        EXPECT_TRUE(std::isfinite(a.ys.at({q, i}))) << c.name;
      }
    // The full dimension works too, and the error normaliser is positive.
    Generator g4(7);
    EXPECT_NO_THROW(sample_icl_task(p, 2, 3, d, d, g4)) << c.name;
    EXPECT_GT(c.error_normalizer(p, d), 0) << c.name;
  }
}

// x ~ N(0, I) on the active coordinates for every class but the ill-conditioned one (whose covariance is tested
// below): per-coordinate mean and variance over 20000 draws, within 5 standard errors.
TEST(IclTasks, IsotropicInputsHaveUnitMoments) {
  for (const auto& c : icl_task_classes()) {
    if (c.name == "ill_conditioned_linear") continue;
    if (c.metric == IclMetric::accuracy) continue;  // ±1 inputs, tested in icl_boolean_test.cc
    Generator g(8);
    const int64_t B = 500, n = 40, d = 4;
    const std::vector<double> x = sample_icl_task(kind(c.name), B, n, d, d, g).xs.to_vector();
    for (int64_t j = 0; j < d; ++j) {
      double m = 0.0, v = 0.0;
      for (int64_t r = 0; r < B * n; ++r) m += x[r * d + j];
      m /= B * n;
      for (int64_t r = 0; r < B * n; ++r) v += (x[r * d + j] - m) * (x[r * d + j] - m);
      v /= B * n;
      EXPECT_NEAR(m, 0.0, 5.0 / std::sqrt(B * n)) << c.name << " " << j;
      EXPECT_NEAR(v, 1.0, 5.0 * std::sqrt(2.0 / (B * n))) << c.name << " " << j;
    }
  }
}

// Sparse w: exactly s non-zeros per prompt, all among the active coordinates, positions uniform; y = w·x.
TEST(IclTasks, SparseLinearSupportAndLabels) {
  Generator g(21);
  const int64_t B = 4000, n = 3, d = 8, active = 6, s = 3;
  const IclBatch b = sample_icl_sparse_linear(B, n, d, active, s, 0.0, g);
  std::vector<int64_t> count(d, 0);
  double w2 = 0.0;
  for (int64_t p = 0; p < B; ++p) {
    int64_t nz = 0;
    for (int64_t j = 0; j < d; ++j) {
      const double wj = b.w.at({p, j});
      if (wj != 0.0) {
        ++nz;
        ++count[j];
        w2 += wj * wj;
        EXPECT_LT(j, active);
      }
    }
    EXPECT_EQ(nz, s);
    for (int64_t i = 0; i < n; ++i) {
      double y = 0.0;
      for (int64_t j = 0; j < d; ++j) y += static_cast<double>(static_cast<float>(b.w.at({p, j}))) * b.xs.at({p, i, j});
      EXPECT_FLOAT_EQ(b.ys.at({p, i}), static_cast<float>(y));
    }
  }
  // Each active coordinate is in the support with probability s/active = 1/2: binomial sd sqrt(B/4) ≈ 32.
  for (int64_t j = 0; j < active; ++j) EXPECT_NEAR(count[j], B / 2, 5 * 32) << j;
  EXPECT_NEAR(w2 / (B * s), 1.0, 0.05);  // the non-zeros are N(0, 1)
  // Fewer active coordinates than s (early curriculum): all active coordinates are used.
  Generator h(22);
  const IclBatch c = sample_icl_sparse_linear(10, 2, d, 2, s, 0.0, h);
  for (int64_t p = 0; p < 10; ++p)
    for (int64_t j = 0; j < d; ++j) EXPECT_EQ(c.w.at({p, j}) != 0.0, j < 2);
  EXPECT_THROW(sample_icl_sparse_linear(1, 1, 4, 4, 5, 0.0, h), Error);
}

// Ill-conditioned x: the eigenvalues are log-spaced from 1 to 1/κ up to scale and sum to a; the sample covariance
// of one prompt has the rotation-invariant moments tr Σ = Σλ and tr Σ² = Σλ² (U is orthogonal).
TEST(IclTasks, IllConditionedCovariance) {
  const std::vector<double> lam = ill_conditioned_eigenvalues(4, 1000.0);
  double sum = 0.0;
  for (double l : lam) sum += l;
  EXPECT_NEAR(sum, 4.0, 1e-12);
  EXPECT_NEAR(lam[0] / lam[3], 1000.0, 1e-9);
  EXPECT_NEAR(lam[0] / lam[1], 10.0, 1e-12);
  EXPECT_NEAR(lam[1] / lam[2], 10.0, 1e-12);
  const int64_t d = 5, a = 4, n = 200000;
  Generator g(31);
  const IclBatch b = sample_icl_ill_conditioned_linear(2, n, d, a, 1000.0, 0.0, g);
  double sum2 = 0.0;
  for (double l : lam) sum2 += l * l;
  for (int64_t p = 0; p < 2; ++p) {
    std::vector<double> cov(a * a, 0.0);
    const std::vector<double> x = b.xs.to_vector();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < a; ++r)
        for (int64_t c = 0; c < a; ++c) cov[r * a + c] += x[(p * n + i) * d + r] * x[(p * n + i) * d + c];
    for (double& v : cov) v /= n;
    double tr = 0.0, tr2 = 0.0;
    for (int64_t r = 0; r < a; ++r) {
      tr += cov[r * a + r];
      for (int64_t c = 0; c < a; ++c) tr2 += cov[r * a + c] * cov[c * a + r];
    }
    EXPECT_NEAR(tr, 4.0, 0.05) << p;
    EXPECT_NEAR(tr2, sum2, 0.15) << p;
    // Not axis-aligned: some off-diagonal covariance is clearly non-zero (a random rotation).
    double off = 0.0;
    for (int64_t r = 0; r < a; ++r)
      for (int64_t c = 0; c < a; ++c)
        if (r != c) off = std::max(off, std::fabs(cov[r * a + c]));
    EXPECT_GT(off, 0.05) << p;
  }
  // Different prompts get different rotations.
  EXPECT_NE(b.xs.at({0, 0, 0}) / b.xs.at({0, 0, 1}), b.xs.at({1, 0, 0}) / b.xs.at({1, 0, 1}));
}

// Decision trees: labels are the returned tree evaluated at x; features index active coordinates; a prompt takes
// at most 2^D distinct values; leaves are N(0, 1); the trees are the same for the same seed.
TEST(IclTasks, DecisionTreeStructure) {
  const int64_t B = 500, n = 20, d = 6, active = 4, D = 4;
  Generator g1(41), g2(41);
  IclTrees t1, t2;
  const IclBatch b = sample_icl_decision_tree(B, n, d, active, D, g1, &t1);
  sample_icl_decision_tree(B, n, d, active, D, g2, &t2);
  EXPECT_EQ(t1.feature.shape(), (Shape{B, 15}));
  EXPECT_EQ(t1.leaf.shape(), (Shape{B, 16}));
  EXPECT_EQ(t1.feature.to_vector(), t2.feature.to_vector());
  EXPECT_EQ(t1.leaf.to_vector(), t2.leaf.to_vector());
  std::set<int64_t> used;
  for (double f : t1.feature.to_vector()) {
    EXPECT_GE(f, 0);
    EXPECT_LT(f, active);
    used.insert(static_cast<int64_t>(f));
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(active));
  const std::vector<double> leaves = t1.leaf.to_vector();
  double m = 0, v = 0;
  for (double l : leaves) m += l;
  m /= leaves.size();
  for (double l : leaves) v += (l - m) * (l - m);
  v /= leaves.size();
  EXPECT_NEAR(m, 0.0, 5.0 / std::sqrt(leaves.size()));
  EXPECT_NEAR(v, 1.0, 0.05);
  const float* x = b.xs.data<float>();
  for (int64_t p = 0; p < B; ++p) {
    std::set<float> distinct;
    for (int64_t i = 0; i < n; ++i) {
      const float y = b.ys.at({p, i});
      EXPECT_EQ(y, static_cast<float>(eval_icl_tree(t1, p, x + (p * n + i) * d)));
      distinct.insert(y);
    }
    EXPECT_LE(distinct.size(), 16u);
  }
  // A hand-built depth-1 tree: root tests x_0 > 0.
  Generator g3(42);
  IclTrees t;
  const IclBatch c = sample_icl_decision_tree(1, 50, 1, 1, 1, g3, &t);
  for (int64_t i = 0; i < 50; ++i)
    EXPECT_EQ(c.ys.at({0, i}), c.xs.at({0, i, 0}) > 0 ? t.leaf.at({0, 1}) : t.leaf.at({0, 0}));
}

// ReLU networks: labels recomputed from the returned weights; a_i has variance 2/hidden and E[y²] = d.
TEST(IclTasks, Relu2nnLabelsAndScale) {
  const int64_t B = 400, n = 25, d = 5, hidden = 100;
  Generator g(51);
  IclReluNets nets;
  const IclBatch b = sample_icl_relu2nn(B, n, d, d, hidden, g, &nets);
  EXPECT_EQ(nets.w1.shape(), (Shape{B, d, hidden}));
  EXPECT_EQ(nets.a.shape(), (Shape{B, hidden}));
  double a2 = 0.0;
  for (double v : nets.a.to_vector()) a2 += v * v;
  EXPECT_NEAR(a2 / (B * hidden), 2.0 / hidden, 0.05 * 2.0 / hidden);
  const std::vector<double> w1 = nets.w1.to_vector(), a = nets.a.to_vector(), x = b.xs.to_vector();
  double y2 = 0.0;
  for (int64_t p = 0; p < B; ++p)
    for (int64_t i = 0; i < n; ++i) {
      double y = 0.0;
      for (int64_t h = 0; h < hidden; ++h) {
        double z = 0.0;
        for (int64_t j = 0; j < d; ++j) z += x[(p * n + i) * d + j] * w1[(p * d + j) * hidden + h];
        if (z > 0) y += a[p * hidden + h] * z;
      }
      EXPECT_NEAR(b.ys.at({p, i}), y, 1e-4 * (1 + std::fabs(y)));
      y2 += y * y;
    }
  // E[y²] = hidden · (2/hidden) · E[relu(z)²] with z ~ N(0, ‖x‖²), E‖x‖² = d: = d. Prompts share a network, so
  // the estimate is noisier than B·n independent draws; 15% is several standard errors here.
  EXPECT_NEAR(y2 / (B * n), static_cast<double>(d), 0.15 * d);
}
