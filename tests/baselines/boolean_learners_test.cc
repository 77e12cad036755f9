// The Boolean classes' learners (Bhattamishra et al. 2023's baselines): elimination and its dual are exact once
// the examples identify the formula and never err on the side they guarantee; GF(2) elimination against brute
// force on small n; the consistent-subset search against a direct enumeration; the perceptron separates
// halfspaces; 1-NN reproduces the nearest-neighbour class; the label-prior baseline.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "xfmr/baselines/catalog.h"
#include "xfmr/baselines/elimination.h"
#include "xfmr/baselines/gf2_parity.h"
#include "xfmr/baselines/majority_label.h"
#include "xfmr/baselines/parity_search.h"
#include "xfmr/baselines/perceptron.h"
#include "xfmr/eval/accuracy_curve.h"
#include "xfmr/tasks/icl_boolean.h"

using namespace xfmr;

namespace {
IclBooleanParams bp(const std::string& k) {
  IclBooleanParams p;
  p.kind = k;
  return p;
}

// Accuracy curve of a named baseline on freshly sampled prompts.
std::vector<double> accuracy(const std::string& baseline, const IclBooleanParams& p, int64_t P, int64_t n,
                             int64_t d, uint64_t seed, IclBaselineOptions opt = {}) {
  Generator g(seed);
  const IclBatch b = sample_icl_boolean(p, P, n, d, d, g);
  BootstrapOptions bo;
  bo.resamples = 10;
  return accuracy_vs_k(make_icl_baseline(baseline, opt), b, bo).mean;
}

// The rows of one prompt as double, for direct calls.
struct Prompt {
  std::vector<double> x, y;
  int64_t n, d;
};
Prompt prompt_of(const IclBatch& b, int64_t q) {
  const int64_t n = b.xs.size(1), d = b.xs.size(2);
  Prompt p{{}, {}, n, d};
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) p.x.push_back(b.xs.at({q, i, j}));
    p.y.push_back(b.ys.at({q, i}));
  }
  return p;
}
}  // namespace

// Elimination never predicts +1 on a negative point (its hypothesis contains the target's literals), so every
// error is a false negative; with the teaching sequence (k + 2 points) it is exact from then on.
TEST(BooleanLearners, EliminationIsOneSidedAndExactAfterTeaching) {
  const int64_t P = 300, n = 40, d = 10;
  for (const char* k : {"conjunction", "disjunction"}) {
    const bool conj = std::string(k) == "conjunction";
    Elimination e(!conj);
    Generator g(21);
    const IclBatch b = sample_icl_boolean(bp(k), P, n, d, d, g);
    for (int64_t q = 0; q < P; ++q) {
      const Prompt pr = prompt_of(b, q);
      for (int64_t i = 1; i < n; ++i) {
        const double v = e(IclContext{pr.x.data(), pr.y.data(), i, d}, pr.x.data() + i * d);
        // Conjunction: no false positives. Disjunction (dual): no false negatives.
        if (conj && v > 0) {
          ASSERT_GT(pr.y[i], 0);
        }
        if (!conj && v < 0) {
          ASSERT_LT(pr.y[i], 0);
        }
      }
    }
    IclBooleanParams tp = bp(k);
    tp.teaching = true;
    const std::vector<double> acc = accuracy(conj ? "elimination" : "elimination_dual", tp, P, n, d, 22);
    for (int64_t i = d + 2; i < n; ++i) EXPECT_EQ(acc[i], 1.0) << k << " k=" << i;
  }
  // Sparse disjunctions: the dual is exact on the random prompts once enough negatives arrived (near 100% at
  // the end), well above the label prior.
  const std::vector<double> acc = accuracy("elimination_dual", bp("sparse_disjunction"), 500, 60, 12, 23);
  const std::vector<double> prior = accuracy("majority_label", bp("sparse_disjunction"), 500, 60, 12, 23);
  EXPECT_GT(acc.back(), 0.97);
  EXPECT_GT(acc.back(), prior.back() + 0.1);
  EXPECT_EQ(acc[0], 0.5);  // empty context: 0, scored 1/2
}

// solve_gf2 against brute force over all 2^d subsets on small random systems.
TEST(BooleanLearners, Gf2SolverMatchesBruteForce) {
  Generator g(31);
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t d = 1 + g.next_int(7), k = 1 + g.next_int(9);
    std::vector<uint64_t> eq(k), rhs(k);
    for (int64_t i = 0; i < k; ++i) eq[i] = g.next_u64() & ((uint64_t{1} << d) - 1), rhs[i] = g.next_u64() & 1;
    bool any = false;
    for (uint64_t s = 0; s < (uint64_t{1} << d); ++s) {
      bool ok = true;
      for (int64_t i = 0; i < k && ok; ++i) ok = static_cast<uint64_t>(std::popcount(eq[i] & s) & 1) == rhs[i];
      any = any || ok;
    }
    std::vector<uint64_t> rows(k);
    for (int64_t i = 0; i < k; ++i) rows[i] = eq[i] | (rhs[i] << d);
    std::vector<uint8_t> sub;
    const bool solved = solve_gf2(rows, k, d, sub);
    ASSERT_EQ(solved, any) << "trial " << trial;
    if (!solved) continue;
    uint64_t s = 0;
    for (int64_t j = 0; j < d; ++j) s |= static_cast<uint64_t>(sub[j]) << j;
    for (int64_t i = 0; i < k; ++i) ASSERT_EQ(static_cast<uint64_t>(std::popcount(eq[i] & s) & 1), rhs[i]);
  }
  // Wide rows (d > 63) take several words.
  const int64_t d = 100;
  IclBooleanParams p = bp("parity");
  Generator g2(32);
  const IclBatch b = sample_icl_boolean(p, 3, 160, d, d, g2);
  Gf2Parity gp;
  for (int64_t q = 0; q < 3; ++q) {
    const Prompt pr = prompt_of(b, q);
    for (int64_t i = 140; i < 160; ++i)
      EXPECT_EQ(gp(IclContext{pr.x.data(), pr.y.data(), i, d}, pr.x.data() + i * d), pr.y[i]);
  }
}

// Full parity: GF(2) elimination is exact once the context spans {0,1}^d (about d + 2 uniform examples); 1-NN
// and the label prior stay at chance.
TEST(BooleanLearners, Gf2ParityLearnsParities) {
  const int64_t P = 400, n = 30, d = 8;
  const std::vector<double> acc = accuracy("gf2_parity", bp("parity"), P, n, d, 33);
  EXPECT_LT(acc[2], 0.8);
  EXPECT_GT(acc[20], 0.99);
  EXPECT_EQ(acc[29], 1.0);
  const std::vector<double> nn = accuracy("nn1", bp("parity"), P, n, d, 33);
  EXPECT_LT(nn[29], 0.6);
}

// The consistent-subset search is the Bayes-optimal vote: check it against a direct enumeration on small
// contexts, and that it is at least as accurate as GF(2) elimination on sparse parities.
TEST(BooleanLearners, ParitySearchIsTheVersionSpaceVote) {
  const int64_t d = 7, kk = 2, n = 12;
  IclBooleanParams p = bp("sparse_parity");
  p.n_relevant = kk;
  Generator g(41);
  const IclBatch b = sample_icl_boolean(p, 50, n, d, d, g);
  ParitySearch ps(kk);
  for (int64_t q = 0; q < 50; ++q) {
    const Prompt pr = prompt_of(b, q);
    for (int64_t i = 0; i < n; ++i) {
      int64_t odd = 0, even = 0;
      for (int64_t a = 0; a < d; ++a)
        for (int64_t c = a + 1; c < d; ++c) {
          bool ok = true;
          for (int64_t e = 0; e < i && ok; ++e)
            ok = ((pr.x[e * d + a] > 0) ^ (pr.x[e * d + c] > 0)) == (pr.y[e] > 0);
          if (!ok) continue;
          ((pr.x[i * d + a] > 0) ^ (pr.x[i * d + c] > 0) ? odd : even) += 1;
        }
      const double want = i == 0 ? 0.0 : (odd > even ? 1.0 : (even > odd ? -1.0 : 0.0));
      ASSERT_EQ(ps(IclContext{pr.x.data(), pr.y.data(), i, d}, pr.x.data() + i * d), want) << q << " " << i;
    }
  }
  IclBaselineOptions opt;
  opt.parity_k = 3;
  IclBooleanParams p3 = bp("sparse_parity");
  p3.n_relevant = 3;
  const std::vector<double> s = accuracy("parity_search", p3, 300, 30, 12, 42, opt);
  const std::vector<double> e = accuracy("gf2_parity", p3, 300, 30, 12, 42, opt);
  double ss = 0, se = 0;
  for (size_t i = 0; i < s.size(); ++i) ss += s[i], se += e[i];
  EXPECT_GT(ss, se);  // fewer examples needed than for a general parity
  EXPECT_EQ(s.back(), 1.0);
  EXPECT_THROW(ParitySearch(0), Error);
}

// The perceptron converges on the halfspace classes (they are linearly separable), beating the label prior.
TEST(BooleanLearners, PerceptronLearnsHalfspaces) {
  for (const char* k : {"majority", "sparse_majority", "int_halfspace"}) {
    const std::vector<double> acc = accuracy("perceptron", bp(k), 400, 60, 9, 51);
    const std::vector<double> prior = accuracy("majority_label", bp(k), 400, 60, 9, 51);
    EXPECT_GT(acc.back(), 0.85) << k;
    EXPECT_GT(acc.back(), prior.back() + 0.05) << k;
  }
  // Consistency on a separable context: after training, it labels its own context correctly.
  Generator g(52);
  const IclBatch b = sample_icl_boolean(bp("int_halfspace"), 1, 30, 6, 6, g);
  const Prompt pr = prompt_of(b, 0);
  Perceptron pc(1000);
  for (int64_t i = 0; i < 30; ++i)
    EXPECT_EQ(pc(IclContext{pr.x.data(), pr.y.data(), 30, 6}, pr.x.data() + i * 6), pr.y[i]) << i;
}

// 1-NN implements the nearest_neighbour class's labelling rule exactly after the random prefix.
TEST(BooleanLearners, OneNearestNeighbourIsExactOnNearestNeighbourClass) {
  IclBooleanParams p = bp("nearest_neighbour");
  p.nn_random_points = 6;
  const std::vector<double> acc = accuracy("nn1", p, 300, 30, 10, 61);
  for (int64_t i = 6; i < 30; ++i) EXPECT_EQ(acc[i], 1.0) << i;
}

TEST(BooleanLearners, MajorityLabel) {
  const std::vector<double> x(6, 1.0);
  const std::vector<double> y = {1, -1, 1};
  MajorityLabel m;
  EXPECT_EQ(m(IclContext{x.data(), y.data(), 3, 2}, x.data()), 1.0);
  EXPECT_EQ(m(IclContext{x.data(), y.data(), 2, 2}, x.data()), 0.0);
  EXPECT_EQ(m(IclContext{x.data(), y.data(), 0, 2}, x.data()), 0.0);
}

// Scoring: sign agreement, ties score 1/2.
TEST(BooleanLearners, SignCorrectScoresTiesAsHalf) {
  const std::vector<double> pred = {0.3, -2.0, 0.0, 1.0}, ys = {1, 1, -1, -1};
  const Tensor c = sign_correct(Tensor::from_vector(std::span<const double>(pred), Shape{2, 2}, DType::f64),
                                Tensor::from_vector(std::span<const double>(ys), Shape{2, 2}, DType::f64));
  EXPECT_EQ(c.to_vector(), (std::vector<double>{1.0, 0.0, 0.5, 0.0}));
}
