// Training a one-layer linear self-attention model on in-context linear regression: it should reach the error
// of one GD step with the best step size (von Oswald et al. 2023, §3; Zhang, Frei & Bartlett 2023, Thm. 4.1,
// whose global minimum for isotropic x is that GD step with a preconditioner ∝ I), and its weights should look
// like the construction of models/lsa.h up to the scale that W_KQ and W_PV can trade.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/core/autograd.h"
#include "xfmr/models/lsa.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/view.h"
#include "xfmr/tasks/icl_linear.h"
#include "xfmr/train/optimizer.h"

using namespace xfmr;
using models::LinearSelfAttentionModel;
using models::LsaConfig;

namespace {

// Frobenius cosine of two equally long vectors.
double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

// Trains on fresh noiseless prompts (d, n) and checks the held-out error and the weights.
void train_and_compare(int64_t d, int64_t n, uint64_t seed) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t batch = 128, steps = 300;
  const int64_t D = d + 1;
  Generator init(seed);
  LinearSelfAttentionModel model(LsaConfig{d, 1, 1}, init, DType::f32);
  AdamW opt(model.named_parameters(), 0.02, 0.9, 0.999, 1e-8, 0.0);
  Generator data(seed + 1);
  // Loss: (ŷ_{k+1} − y_{k+1})²/d averaged over k = 1..n−1, the normalisation of tune_gd_step_size.
  auto loss_of = [&](const IclBatch& b) {
    const Tensor pred = model.forward(b.xs, b.ys);
    return mse_loss(slice(pred, 1, 1, n), slice(b.ys, 1, 1, n)) / static_cast<double>(d);
  };
  double first = 0, last = 0;
  for (int64_t s = 0; s < steps; ++s) {
    opt.lr = s < steps / 2 ? 0.02 : 0.02 * (steps - s) / (steps / 2.0);  // linear decay over the second half
    const IclBatch b = sample_icl_linear(batch, n, d, d, 0.0, data);      // fresh prompts every step
    opt.zero_grad();
    const Tensor loss = loss_of(b);
    loss.backward();
    opt.step();
    if (s == 0) first = loss.item();
    last = loss.item();
  }

  const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Held-out evaluation against GD with the step size tuned (on other prompts) over a fine grid.
  std::vector<double> grid;
  for (int i = 0; i <= 60; ++i) grid.push_back(0.2 + 0.01 * i);
  const IclLinearConfig cfg{d, n, 0.0};
  const GdTuneResult tuned = tune_gd_step_size(1, cfg, 4096, 0x7e57, grid);
  Generator eval_gen(seed + 2);
  const int64_t P = 8192;
  const IclBatch eval = sample_icl_linear(P, n, d, d, 0.0, eval_gen);
  std::vector<double> pred;
  {
    NoGradGuard ng;
    pred = model.forward(eval.xs, eval.ys).to_vector();
  }
  const std::vector<double> xs = eval.xs.to_vector(), ys = eval.ys.to_vector();
  GradientDescent gd(1, tuned.eta);
  double lsa_err = 0, gd_err = 0;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t k = 1; k < n; ++k) {
      const double y = ys[p * n + k];
      const double g = gd(IclContext{xs.data() + p * n * d, ys.data() + p * n, k, d}, xs.data() + (p * n + k) * d);
      lsa_err += (pred[p * n + k] - y) * (pred[p * n + k] - y) / d;
      gd_err += (g - y) * (g - y) / d;
    }
  lsa_err /= static_cast<double>(P * (n - 1));
  gd_err /= static_cast<double>(P * (n - 1));
  // Expected one-step error for x, w ~ N(0, I): eta²(k + d + 1)/k − 2 eta + 1, minimised over a shared eta.
  double a = 0;
  for (int64_t k = 1; k < n; ++k) a += static_cast<double>(k + d + 1) / k;
  const double eta_star = (n - 1) / a, err_star = (a * eta_star * eta_star - 2 * (n - 1) * eta_star + (n - 1)) / (n - 1);

  // Weights against the construction W_KQ = [[I, 0], [0, 0]], W_PV = [[0, 0], [0, −eta]]. For one layer only
  // W_KQ's first d columns (the query's y slot is 0) and W_PV's last row (the y slot is what is read) matter.
  // Writing A = W_KQ[:d, :d], b = W_KQ[d, :d], (p, v) = W_PV[d, :], the query's prediction is
  //   −(1/k) Σ_i (p·x_i + v y_i)(x_iᵀ A x_q + y_i b·x_q),
  // whose w-linear part is wᵀ Σ̂ Γ x_q with Γ = −(v A + p bᵀ): Γ plays eta·I (the scale-free comparison).
  const std::vector<double> kq = model.w_kq().to_vector(), pv = model.w_pv().to_vector();
  std::vector<double> kq_rel, kq_ref, pv_rel, pv_ref, gamma, ident;
  double tr_a = 0;
  for (int64_t r = 0; r < D; ++r)
    for (int64_t c = 0; c < d; ++c) {
      kq_rel.push_back(kq[r * D + c]);
      kq_ref.push_back(r == c ? 1.0 : 0.0);
      if (r == c) tr_a += kq[r * D + c];
    }
  const double sgn = tr_a >= 0 ? 1.0 : -1.0;  // (c·W_KQ, W_PV/c) is the same model: fix the sign of c
  for (double& v : kq_rel) v *= sgn;
  for (int64_t c = 0; c < D; ++c) {
    pv_rel.push_back(sgn * pv[d * D + c]);
    pv_ref.push_back(c == d ? -1.0 : 0.0);
  }
  const double v = pv[d * D + d];
  double tr_gamma = 0;
  for (int64_t r = 0; r < d; ++r)
    for (int64_t c = 0; c < d; ++c) {
      const double g = -(v * kq[r * D + c] + pv[d * D + r] * kq[d * D + c]);
      gamma.push_back(g);
      ident.push_back(r == c ? 1.0 : 0.0);
      if (r == c) tr_gamma += g;
    }
  const double cos_kq = cosine(kq_rel, kq_ref), cos_pv = cosine(pv_rel, pv_ref), cos_gamma = cosine(gamma, ident);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "LSA d=%lld n=%lld: train loss %.4f -> %.4f; held-out error LSA %.5f vs GD(eta=%.2f) %.5f (ratio %.4f); "
      "analytic eta* %.4f, error %.5f\n"
      "  weights: cos(W_KQ[:, :d], [I; 0]) = %.4f, cos(W_PV[d, :], (0, -1)) = %.4f, cos(Gamma, I) = %.4f, "
      "tr(Gamma)/d = %.4f (eta* %.4f); %.2f s (training %.2f s)\n",
      static_cast<long long>(d), static_cast<long long>(n), first, last, lsa_err, tuned.eta, gd_err, lsa_err / gd_err,
      eta_star, err_star, cos_kq, cos_pv, cos_gamma, tr_gamma / d, eta_star, secs, train_secs);
  ::testing::Test::RecordProperty("lsa_error", std::to_string(lsa_err));
  ::testing::Test::RecordProperty("gd_error", std::to_string(gd_err));
  ::testing::Test::RecordProperty("cos_gamma", std::to_string(cos_gamma));

  EXPECT_LT(last, 0.8 * first);
  EXPECT_LT(lsa_err, 1.10 * gd_err);
  EXPECT_NEAR(tuned.eta, eta_star, 0.05);  // the tuner agrees with the closed form
  EXPECT_GT(cos_gamma, 0.95);              // the learned map is GD's eta·I, up to scale
}

}  // namespace

TEST(LinearSelfAttentionTraining, OneLayerReachesTunedOneStepGd) {
  train_and_compare(3, 12, 42);
  train_and_compare(5, 20, 52);
}
