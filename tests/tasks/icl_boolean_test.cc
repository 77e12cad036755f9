// The Boolean function classes (Bhattamishra et al. 2023): labels recomputed from the sampled functions, the
// paper's sampling statistics (literal rates, planted points, label balance), teaching sequences, determinism,
// and validation messages.
#include "xfmr/tasks/icl_boolean.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "support/errors.h"
#include "xfmr/core/check.h"
#include "xfmr/tasks/icl_tasks.h"

using namespace xfmr;
using xfmr::test::error_of;

namespace {
IclBooleanParams bp(const std::string& k) {
  IclBooleanParams p;
  p.kind = k;
  return p;
}


double frac_positive(const IclBatch& b, int64_t from = 0) {
  const int64_t B = b.ys.size(0), n = b.ys.size(1);
  double s = 0;
  for (int64_t q = 0; q < B; ++q)
    for (int64_t i = from; i < n; ++i) s += b.ys.at({q, i}) > 0;
  return s / static_cast<double>(B * (n - from));
}

// Within 5 standard errors of p for m Bernoulli draws.
void expect_rate(double got, double p, double m, const std::string& what) {
  EXPECT_NEAR(got, p, 5 * std::sqrt(p * (1 - p) / m) + 1e-12) << what;
}
}  // namespace

TEST(IclBoolean, RegistryHasEveryClassWithAccuracyMetric) {
  for (const std::string& k : icl_boolean_kinds()) {
    const IclTaskClass& c = icl_task_class(k);
    EXPECT_EQ(c.metric, IclMetric::accuracy) << k;
    EXPECT_FALSE(c.baselines.empty()) << k;
  }
  EXPECT_EQ(icl_task_class("linear").metric, IclMetric::squared_error);
  const std::string msg = error_of([] { icl_task_class("xor"); });
  EXPECT_NE(msg.find("conjunction"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nearest_neighbour"), std::string::npos) << msg;
}

// Inputs are ±1 on the active bits, 0 beyond; labels ±1 and equal to the returned function at x.
TEST(IclBoolean, LabelsMatchTheSampledFunction) {
  for (const std::string& k : icl_boolean_kinds()) {
    if (k == "nearest_neighbour") continue;
    for (bool teach : {false, true}) {
      if (teach && !icl_boolean_has_teaching(k)) continue;
      IclBooleanParams p = bp(k);
      p.teaching = teach;
      Generator g(3);
      IclBooleanFunctions f;
      const int64_t B = 40, n = 30, d = 12, active = 10;
      const IclBatch b = sample_icl_boolean(p, B, n, d, active, g, &f);
      ASSERT_EQ(b.xs.shape(), (Shape{B, n, d}));
      for (int64_t q = 0; q < B; ++q)
        for (int64_t i = 0; i < n; ++i) {
          const float* x = b.xs.data<float>() + (q * n + i) * d;
          for (int64_t j = 0; j < d; ++j) EXPECT_EQ(std::fabs(x[j]), j < active ? 1.0f : 0.0f) << k;
          EXPECT_EQ(b.ys.at({q, i}), eval_icl_boolean(f, q, x)) << k;
        }
    }
  }
}

TEST(IclBoolean, DeterministicBySeed) {
  for (const std::string& k : icl_boolean_kinds()) {
    Generator g1(8), g2(8), g3(9);
    const IclBatch a = sample_icl_boolean(bp(k), 5, 20, 8, 8, g1);
    const IclBatch b = sample_icl_boolean(bp(k), 5, 20, 8, 8, g2);
    const IclBatch c = sample_icl_boolean(bp(k), 5, 20, 8, 8, g3);
    EXPECT_EQ(a.xs.to_vector(), b.xs.to_vector()) << k;
    EXPECT_EQ(a.ys.to_vector(), b.ys.to_vector()) << k;
    EXPECT_NE(a.xs.to_vector(), c.xs.to_vector()) << k;
  }
}

// The paper's conjunction: each bit a positive / negated literal w.p. 0.15 / 0.15, and 30% of the points planted
// positive, so P(y = +1) = 0.3 + 0.7·E[2^−|literals|].
TEST(IclBoolean, ConjunctionSamplingStatistics) {
  const int64_t B = 4000, n = 20, d = 10;
  Generator g(1);
  IclBooleanFunctions f;
  const IclBatch b = sample_icl_boolean(bp("conjunction"), B, n, d, d, g, &f);
  double pos = 0, neg = 0;
  for (double v : f.literals.to_vector()) pos += v > 0, neg += v < 0;
  expect_rate(pos / (B * d), 0.15, B * d, "positive literal rate");
  expect_rate(neg / (B * d), 0.15, B * d, "negated literal rate");
  // E[2^-L] with L ~ Bin(d, 0.3): (0.7 + 0.3/2)^d.
  const double p_pos = 0.3 + 0.7 * std::pow(0.85, static_cast<double>(d));
  const double got = frac_positive(b);
  EXPECT_NEAR(got, p_pos, 0.02) << "label balance";
  // Bits outside the conjunction stay uniform.
  double ones = 0, m = 0;
  for (int64_t q = 0; q < B; ++q)
    for (int64_t j = 0; j < d; ++j) {
      if (f.literals.at({q, 0, j}) != 0) continue;
      for (int64_t i = 0; i < n; ++i) ones += b.xs.at({q, i, j}) > 0, m += 1;
    }
  expect_rate(ones / m, 0.5, m, "irrelevant bits");
}

// Disjunctions are planted negative (30%); parities and halfspaces are balanced-ish; sparse parity reads exactly
// n_relevant bits.
TEST(IclBoolean, OtherClassesStatistics) {
  const int64_t B = 3000, n = 20, d = 10;
  {
    Generator g(2);
    const IclBatch b = sample_icl_boolean(bp("disjunction"), B, n, d, d, g);
    EXPECT_NEAR(1 - frac_positive(b), 0.3 + 0.7 * std::pow(0.85, 10.0), 0.02);
  }
  {
    IclBooleanParams p = bp("sparse_parity");
    p.n_relevant = 3;
    Generator g(4);
    IclBooleanFunctions f;
    const IclBatch b = sample_icl_boolean(p, B, n, d, d, g, &f);
    for (int64_t q = 0; q < B; ++q) {
      int64_t c = 0;
      for (int64_t j = 0; j < d; ++j) c += f.literals.at({q, 0, j}) != 0;
      ASSERT_EQ(c, 3);
    }
    expect_rate(frac_positive(b), 0.5, B * n, "sparse parity balance");  // a non-empty parity is balanced
  }
  {
    Generator g(5);
    IclBooleanFunctions f;
    const IclBatch b = sample_icl_boolean(bp("int_halfspace"), 200, n, d, d, g, &f);
    for (double w : f.weights.to_vector()) EXPECT_TRUE(w >= -3 && w <= 3 && w == std::round(w));
    (void)b;
  }
  {
    // majority over 9 bits: y = +1 iff at least 5 ones, P = 1/2.
    Generator g(6);
    const IclBatch b = sample_icl_boolean(bp("majority"), B, n, 9, 9, g);
    expect_rate(frac_positive(b), 0.5, B * n, "majority balance");
  }
}

// Nearest neighbour: the prefix is coin flips, every later label copies the most similar earlier point's label.
TEST(IclBoolean, NearestNeighbourLabels) {
  IclBooleanParams p = bp("nearest_neighbour");
  p.nn_random_points = 5;
  Generator g(7);
  const int64_t B = 500, n = 25, d = 8;
  const IclBatch b = sample_icl_boolean(p, B, n, d, d, g);
  for (int64_t q = 0; q < B; ++q)
    for (int64_t i = p.nn_random_points; i < n; ++i) {
      double best = -1e9;
      int64_t arg = -1;
      for (int64_t e = 0; e < i; ++e) {
        double s = 0;
        for (int64_t j = 0; j < d; ++j) s += b.xs.at({q, i, j}) * b.xs.at({q, e, j});
        if (s > best) best = s, arg = e;
      }
      ASSERT_EQ(b.ys.at({q, i}), b.ys.at({q, arg}));
    }
  expect_rate(frac_positive(b, 0), 0.5, B * n / 5.0, "nn balance");
}

// Teaching sequences: the conjunction's k + 2 points (2 positives, then one negative per literal) make the
// elimination hypothesis exactly the target; the disjunction's dual.
TEST(IclBoolean, TeachingSequences) {
  const int64_t B = 300, n = 30, d = 10;
  for (const char* k : {"conjunction", "disjunction"}) {
    IclBooleanParams p = bp(k);
    p.teaching = true;
    Generator g(11);
    IclBooleanFunctions f;
    const IclBatch b = sample_icl_boolean(p, B, n, d, d, g, &f);
    const bool conj = std::string(k) == "conjunction";
    for (int64_t q = 0; q < B; ++q) {
      int64_t lits = 0;
      for (int64_t j = 0; j < d; ++j) lits += f.literals.at({q, 0, j}) != 0;
      // Two base points with the target's value, then one flipped point per literal with the other value.
      const float base = conj ? 1.0f : -1.0f;
      ASSERT_EQ(b.ys.at({q, 0}), base) << k;
      ASSERT_EQ(b.ys.at({q, 1}), base) << k;
      for (int64_t i = 2; i < 2 + lits; ++i) ASSERT_EQ(b.ys.at({q, i}), -base) << k << " point " << i;
      // The irrelevant bits are all -1 in point 0 and all +1 in point 1.
      for (int64_t j = 0; j < d; ++j) {
        if (f.literals.at({q, 0, j}) != 0) continue;
        ASSERT_EQ(b.xs.at({q, 0, j}), -1.0f);
        ASSERT_EQ(b.xs.at({q, 1, j}), 1.0f);
      }
    }
  }
  // The paper's teaching conjunction plants 40% positives, the plain one 30%.
  IclBooleanParams p = bp("conjunction");
  EXPECT_EQ(icl_boolean_plant_rate(p), 0.3);
  p.teaching = true;
  EXPECT_EQ(icl_boolean_plant_rate(p), 0.4);
  // Monotone DNF teaching: terms have only positive literals, the first point satisfies the first term.
  IclBooleanParams dp = bp("dnf");
  dp.teaching = true;
  Generator g(12);
  IclBooleanFunctions f;
  const IclBatch b = sample_icl_boolean(dp, B, 60, d, d, g, &f);
  for (double v : f.literals.to_vector()) ASSERT_GE(v, 0.0);
  for (int64_t q = 0; q < B; ++q) ASSERT_EQ(b.ys.at({q, 0}), 1.0f);
}

TEST(IclBoolean, ValidationGivesReasons) {
  auto bad = [](IclTaskParams p, int64_t d, int64_t n, const std::string& want) {
    const std::string msg = error_of([&] { validate_icl_task(p, d, n); });
    EXPECT_NE(msg.find(want), std::string::npos) << "want '" << want << "' in '" << msg << "'";
  };
  IclTaskParams p;
  p.kind = "sparse_parity";
  p.n_relevant = 7;
  bad(p, 5, 20, "task.n_relevant must be in [1, d = 5] for task.kind=sparse_parity");
  p.n_relevant = -1;
  bad(p, 5, 20, "task.n_relevant");
  p = {};
  p.kind = "sparse_disjunction";  // the paper's 4 relevant bits do not fit in 3
  bad(p, 3, 20, "task.n_relevant must be in [1, d = 3]");
  p = {};
  p.kind = "parity";
  p.teaching = true;
  bad(p, 5, 20, "task.kind=parity has no teaching sequence");
  p.kind = "linear";
  bad(p, 5, 20, "task.kind=linear has no teaching sequence");
  p = {};
  p.kind = "conjunction";
  p.teaching = true;
  bad(p, 10, 11, "task.n_points must be >= d + 2 = 12");
  p = {};
  p.kind = "cnf";
  p.n_clauses = 0;
  bad(p, 5, 20, "task.n_clauses");
  p = {};
  p.kind = "dnf";
  p.plant_rate = 1.5;
  bad(p, 5, 20, "task.plant_rate");
  p = {};
  p.kind = "nearest_neighbour";
  p.nn_random_points = 30;
  bad(p, 5, 20, "task.nn_random_points must be in [1, n_points = 20]");
  for (const std::string& k : icl_boolean_kinds()) {
    IclTaskParams ok;
    ok.kind = k;
    EXPECT_NO_THROW(validate_icl_task(ok, 10, 30)) << k;
  }
}
