// Linear self-attention model (models/lsa.h): the von Oswald et al. 2023 GD construction, the equivalence of
// its two forward forms, causality, gradients, bad input, and a short training run against tuned one-step GD.
#include "xfmr/models/lsa.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/view.h"
#include "xfmr/tasks/icl_linear.h"
#include "xfmr/train/optimizer.h"

using namespace xfmr;
using models::LinearSelfAttentionModel;
using models::LsaConfig;
using models::LsaNorm;

namespace {

struct Prompts {
  Tensor xs, ys;  // [B, n, d], [B, n] f64
  std::vector<double> x, y;
};

// Noisy linear-regression prompts in f64 (noise so that y is not exactly w·x: the identities below must not
// depend on it).
Prompts f64_prompts(int64_t B, int64_t n, int64_t d, uint64_t seed) {
  Generator g(seed);
  const IclBatch b = sample_icl_linear(B, n, d, d, 0.3, g);
  Prompts p{b.xs.converted(DType::f64), b.ys.converted(DType::f64), {}, {}};
  p.x = p.xs.to_vector();
  p.y = p.ys.to_vector();
  return p;
}

// K GD steps from 0 with step eta on prompt b's first k points, evaluated at x_query.
double gd_predict(const Prompts& p, int64_t b, int64_t n, int64_t d, int64_t k, const double* x_query,
                  int64_t steps, double eta) {
  GradientDescent gd(steps, eta);
  return gd(IclContext{p.x.data() + b * n * d, p.y.data() + b * n, k, d}, x_query);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(LinearSelfAttention, ParametersAndShapes) {
  Generator g(1);
  LinearSelfAttentionModel m(LsaConfig{4, 3, 2}, g);
  const auto params = m.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "w_kq");
  EXPECT_EQ(params[1].name, "w_pv");
  EXPECT_EQ(m.w_kq().shape(), (Shape{3, 2, 5, 5}));
  EXPECT_EQ(m.num_parameters(), 2 * 3 * 2 * 25);
  Generator pg(2);
  const IclBatch b = sample_icl_linear(6, 7, 4, 4, 0.0, pg);
  EXPECT_EQ(m.forward(b.xs, b.ys).shape(), (Shape{6, 7}));
  EXPECT_EQ(m.forward_query(b.xs, b.ys, select(b.xs, 1, 0)).shape(), (Shape{6}));
  EXPECT_EQ(m.forward_query(b.xs, b.ys, b.xs).shape(), (Shape{6, 7}));
  // The interleaved prompt gives the same predictions (same arithmetic, strided inputs).
  EXPECT_EQ(m.forward_interleaved(interleave_prompt(b)).to_vector(), m.forward(b.xs, b.ys).to_vector());
  // Empty context: the query is untouched, prediction 0.
  const Tensor none = m.forward_query(slice(b.xs, 1, 0, 0), slice(b.ys, 1, 0, 0), select(b.xs, 1, 0));
  for (double v : none.to_vector()) EXPECT_EQ(v, 0.0);
  // Position 0 of the prefix form sees nothing.
  const Tensor pre = m.forward(b.xs, b.ys);
  for (double v : select(pre, 1, 0).to_vector()) EXPECT_EQ(v, 0.0);
}

// von Oswald et al. 2023, Prop. 1: the constructed layer's prediction is one GD step from 0.
TEST(LinearSelfAttention, ConstructionIsOneGdStep) {
  for (auto [d, N] : {std::pair<int64_t, int64_t>{1, 1}, {2, 5}, {3, 10}, {5, 20}, {8, 40}, {10, 7}}) {
    const int64_t B = 16, M = 3;
    const Prompts p = f64_prompts(B, N + M, d, 100 + d * 7 + N);
    Generator g(3);
    LinearSelfAttentionModel m(LsaConfig{d, 1, 2}, g, DType::f64);  // the second head is zeroed
    for (double eta : {0.05, 0.37, 1.0}) {
      models::set_gd_construction(m, eta);
      const Tensor xc = slice(p.xs, 1, 0, N), yc = slice(p.ys, 1, 0, N), xq = slice(p.xs, 1, N, N + M);
      const std::vector<double> one = m.forward_query(xc, yc, select(xq, 1, 0)).to_vector();
      const std::vector<double> many = m.forward_query(xc, yc, xq).to_vector();
      double max_err = 0.0;
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t q = 0; q < M; ++q) {
          const double ref = gd_predict(p, b, N + M, d, N, p.x.data() + (b * (N + M) + N + q) * d, 1, eta);
          const double got = many[b * M + q];
          max_err = std::max(max_err, std::fabs(got - ref) / std::max(1.0, std::fabs(ref)));
          if (q == 0) {
            EXPECT_EQ(one[b], got);  // [B, d] and [B, M, d] queries: the same arithmetic
          }
        }
      }
      EXPECT_LT(max_err, 1e-12) << "d=" << d << " N=" << N << " eta=" << eta;
    }
  }
}

// Stacked construction layers: the context tokens' y slots hold the negated residuals y_i − w_l·x_i and the
// x slots never change, so K layers are exactly K GD steps (the query slot holds −w_K·x_q).
TEST(LinearSelfAttention, KLayerConstructionIsKGdSteps) {
  for (int64_t K : {2, 3, 5}) {
    for (auto [d, N] : {std::pair<int64_t, int64_t>{3, 12}, {5, 20}}) {
      const int64_t B = 8;
      const Prompts p = f64_prompts(B, N + 1, d, 200 + K * 31 + d);
      Generator g(4);
      LinearSelfAttentionModel m(LsaConfig{d, K, 1}, g, DType::f64);
      const double eta = 0.3;
      models::set_gd_construction(m, eta);
      const std::vector<double> got =
          m.forward_query(slice(p.xs, 1, 0, N), slice(p.ys, 1, 0, N), select(p.xs, 1, N)).to_vector();
      for (int64_t b = 0; b < B; ++b) {
        const double ref = gd_predict(p, b, N + 1, d, N, p.x.data() + (b * (N + 1) + N) * d, K, eta);
        const double one_step = gd_predict(p, b, N + 1, d, N, p.x.data() + (b * (N + 1) + N) * d, 1, eta);
        EXPECT_NEAR(got[b], ref, 1e-12 * std::max(1.0, std::fabs(ref))) << "K=" << K << " b=" << b;
        EXPECT_GT(std::fabs(ref - one_step), 1e-6);  // K steps really differ from one
      }
    }
  }
}

// The prefix form with one layer and 1/j scaling is forward_query on every prefix, for any weights and heads;
// with the construction it is one GD step on the first j points at every j (what the GD tuner scores).
TEST(LinearSelfAttention, PrefixFormIsForwardQueryOnEveryPrefix) {
  const int64_t B = 5, n = 9, d = 3;
  const Prompts p = f64_prompts(B, n, d, 7);
  Generator g(5);
  LinearSelfAttentionModel m(LsaConfig{d, 1, 3, LsaNorm::kVisible, 0, 0.5}, g, DType::f64);
  const std::vector<double> all = m.forward(p.xs, p.ys).to_vector();
  for (int64_t j = 1; j < n; ++j) {
    const std::vector<double> q =
        m.forward_query(slice(p.xs, 1, 0, j), slice(p.ys, 1, 0, j), select(p.xs, 1, j)).to_vector();
    for (int64_t b = 0; b < B; ++b) EXPECT_NEAR(all[b * n + j], q[b], 1e-12 * std::max(1.0, std::fabs(q[b])));
  }
  const double eta = 0.4;
  models::set_gd_construction(m, eta);
  const std::vector<double> gd = m.forward(p.xs, p.ys).to_vector();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 1; j < n; ++j) {
      const double ref = gd_predict(p, b, n, d, j, p.x.data() + (b * n + j) * d, 1, eta);
      EXPECT_NEAR(gd[b * n + j], ref, 1e-12 * std::max(1.0, std::fabs(ref)));
    }
  // Fixed 1/n_points scaling: with one layer the update is linear in the scale, so prediction j is j/n_points
  // times the 1/j one.
  Generator g2(5);
  LinearSelfAttentionModel fixed(LsaConfig{d, 1, 3, LsaNorm::kFixed, 20, 0.5}, g2, DType::f64);
  Generator g3(5);
  LinearSelfAttentionModel visible(LsaConfig{d, 1, 3, LsaNorm::kVisible, 0, 0.5}, g3, DType::f64);
  const std::vector<double> pf = fixed.forward(p.xs, p.ys).to_vector();
  const std::vector<double> pv = visible.forward(p.xs, p.ys).to_vector();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < n; ++j)
      EXPECT_NEAR(pf[b * n + j], pv[b * n + j] * j / 20.0, 1e-12 * std::max(1.0, std::fabs(pv[b * n + j])));
}

// Prediction j must not depend on y_j or on anything after position j (no label leak), in every layer.
TEST(LinearSelfAttention, PrefixFormIsCausal) {
  const int64_t B = 3, n = 8, d = 4;
  for (LsaNorm norm : {LsaNorm::kVisible, LsaNorm::kFixed}) {
    Generator g(6);
    LinearSelfAttentionModel m(LsaConfig{d, 3, 2, norm, n, 0.4}, g, DType::f64);
    const Prompts p = f64_prompts(B, n, d, 8);
    const std::vector<double> base = m.forward(p.xs, p.ys).to_vector();
    for (int64_t j = 0; j < n; ++j) {
      Tensor xs = p.xs.contiguous_copy(), ys = p.ys.contiguous_copy();
      double* px = xs.data<double>();
      double* py = ys.data<double>();
      for (int64_t b = 0; b < B; ++b) {
        py[b * n + j] += 3.0;  // y_j itself
        for (int64_t t = j + 1; t < n; ++t) {
          py[b * n + t] -= 1.5;
          for (int64_t c = 0; c < d; ++c) px[(b * n + t) * d + c] *= -2.0;
        }
      }
      const std::vector<double> out = m.forward(xs, ys).to_vector();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t <= j; ++t) EXPECT_EQ(out[b * n + t], base[b * n + t]) << "j=" << j << " t=" << t;
      if (j + 1 < n) {
        EXPECT_NE(out[j + 1], base[j + 1]);  // later positions do see y_j
      }
    }
  }
}

// With two or more layers the causal context stream differs from forward_query's (whose context tokens see
// the whole context), so the prefix form is not L-layer forward_query on each prefix: pin that down.
TEST(LinearSelfAttention, MultiLayerPrefixFormIsItsOwnModel) {
  const int64_t B = 4, n = 10, d = 3;
  const Prompts p = f64_prompts(B, n, d, 9);
  Generator g(7);
  LinearSelfAttentionModel m(LsaConfig{d, 2, 1}, g, DType::f64);
  models::set_gd_construction(m, 0.3);
  const std::vector<double> all = m.forward(p.xs, p.ys).to_vector();
  double max_diff = 0.0;
  for (int64_t j = 2; j < n; ++j) {
    const std::vector<double> q =
        m.forward_query(slice(p.xs, 1, 0, j), slice(p.ys, 1, 0, j), select(p.xs, 1, j)).to_vector();
    for (int64_t b = 0; b < B; ++b) max_diff = std::max(max_diff, std::fabs(all[b * n + j] - q[b]));
  }
  EXPECT_GT(max_diff, 1e-3);
}

TEST(LinearSelfAttention, F32MatchesF64) {
  const int64_t B = 4, n = 12, d = 5;
  Generator g32(8), g64(8);
  LinearSelfAttentionModel m32(LsaConfig{d, 2, 2}, g32, DType::f32);
  LinearSelfAttentionModel m64(LsaConfig{d, 2, 2, LsaNorm::kVisible, 0, 0.3}, g64, DType::f64);
  {
    NoGradGuard ng;
    Tensor kq = m32.w_kq(), pv = m32.w_pv();
    kq.copy_(m64.w_kq().converted(DType::f32));
    pv.copy_(m64.w_pv().converted(DType::f32));
  }
  const Prompts p = f64_prompts(B, n, d, 10);
  const std::vector<double> a = m32.forward(p.xs.converted(DType::f32), p.ys.converted(DType::f32)).to_vector();
  const std::vector<double> b = m64.forward(p.xs, p.ys).to_vector();
  EXPECT_LT(test::rel_error(a, b), 1e-5);
}

TEST(LinearSelfAttention, Gradcheck) {
  for (LsaNorm norm : {LsaNorm::kVisible, LsaNorm::kFixed}) {
    Generator g(11);
    LinearSelfAttentionModel m(LsaConfig{3, 2, 2, norm, 6, 0.3}, g, DType::f64);
    const Tensor xs = test::random_transposed_input({2, 5, 3}, 21);  // non-contiguous
    const Tensor ys = test::random_input({2, 5}, 22);
    test::expect_gradcheck([&](auto& in) { return m.forward(in[2], in[3]); }, {m.w_kq(), m.w_pv(), xs, ys});
  }
  Generator g(12);
  LinearSelfAttentionModel m(LsaConfig{3, 3, 2, LsaNorm::kVisible, 0, 0.3}, g, DType::f64);
  const Tensor xc = test::random_input({2, 6, 3}, 23), yc = test::random_input({2, 6}, 24);
  const Tensor xq = test::random_transposed_input({2, 4, 3}, 25);
  test::expect_gradcheck([&](auto& in) { return m.forward_query(in[2], in[3], in[4]); },
                         {m.w_kq(), m.w_pv(), xc, yc, xq});
  const Tensor xq1 = test::random_input({2, 3}, 26);
  test::expect_gradcheck([&](auto& in) { return m.forward_query(in[2], in[3], in[4]); },
                         {m.w_kq(), m.w_pv(), xc, yc, xq1});
}

TEST(LinearSelfAttention, BadInput) {
  Generator g(13);
  LinearSelfAttentionModel m(LsaConfig{4, 1, 1}, g);
  auto expect_error = [](auto&& fn, const std::string& shape) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "LinearSelfAttentionModel")) << e.what();
      EXPECT_TRUE(contains(e.what(), shape)) << e.what();
    }
  };
  const Tensor xs = Tensor::zeros({2, 6, 4}), ys = Tensor::zeros({2, 6});
  expect_error([&] { m.forward(Tensor::zeros({2, 6, 3}), ys); }, "[2, 6, 3]");   // wrong d
  expect_error([&] { m.forward(xs, Tensor::zeros({2, 5})); }, "[2, 5]");         // wrong n
  expect_error([&] { m.forward(xs, Tensor::zeros({3, 6})); }, "[3, 6]");         // wrong B
  expect_error([&] { m.forward(Tensor::zeros({6, 4}), Tensor::zeros({6})); }, "[6, 4]");  // no batch
  expect_error([&] { m.forward(xs, Tensor::zeros({2, 6, 1})); }, "[2, 6, 1]");   // ys with a trailing 1
  expect_error([&] { m.forward(xs.converted(DType::f64), ys); }, "f64");         // dtype
  expect_error([&] { m.forward_interleaved(Tensor::zeros({2, 5, 4})); }, "[2, 5, 4]");  // odd length
  expect_error([&] { m.forward_interleaved(Tensor::zeros({2, 6, 3})); }, "[2, 6, 3]");  // wrong d
  expect_error([&] { m.forward_query(xs, ys, Tensor::zeros({2, 3})); }, "[2, 3]");     // query d
  expect_error([&] { m.forward_query(xs, ys, Tensor::zeros({3, 4})); }, "[3, 4]");     // query B
  expect_error([&] { m.forward_query(xs, ys, Tensor::zeros({4})); }, "[4]");           // query rank
  expect_error([&] { m.forward_query(xs, ys, Tensor::zeros({2, 4}, DType::f64)); }, "f64");
  expect_error([&] { m.forward_query(xs, Tensor::zeros({2, 7}), Tensor::zeros({2, 4})); }, "[2, 7]");
  auto expect_config_error = [&](LsaConfig c, const std::string& field) {
    Generator cg(1);
    try {
      LinearSelfAttentionModel bad(c, cg);
      ADD_FAILURE() << "no error for " << field;
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "LinearSelfAttentionModel")) << e.what();
      EXPECT_TRUE(contains(e.what(), field)) << e.what();
    }
  };
  expect_config_error(LsaConfig{0, 1, 1}, "model.d");
  expect_config_error(LsaConfig{3, 0, 1}, "model.n_layer");
  expect_config_error(LsaConfig{3, 1, 0}, "model.n_head");
  expect_config_error(LsaConfig{3, 1, 1, LsaNorm::kFixed, 0}, "model.n_points");
  Generator cg(1);
  try {
    LinearSelfAttentionModel bad(LsaConfig{3, 1, 1}, cg, DType::i64);
    ADD_FAILURE() << "no error for dtype";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "LinearSelfAttentionModel")) << e.what();
  }
}
