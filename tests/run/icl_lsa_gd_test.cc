// compare_lsa_with_gd: von Oswald et al.'s construction scores as exactly one GD step, whatever the scale
// symmetry, and a random LSA does not.
#include <gtest/gtest.h>

#include "xfmr/core/autograd.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/view.h"
#include "xfmr/run/icl_lsa_gd.h"

using namespace xfmr;

namespace {

IclBatch prompts(int64_t P, int64_t n, int64_t d) {
  Generator g(3);
  return sample_icl_linear(P, {d, n, 0.0}, g);
}

Tensor preds(const models::LinearSelfAttentionModel& m, const IclBatch& b) {
  NoGradGuard ng;
  return m.forward(b.xs, b.ys);
}

}  // namespace

TEST(LsaGdComparison, ConstructionIsOneGdStep) {
  Generator g(1);
  models::LsaConfig c;
  c.d = 4;
  models::LinearSelfAttentionModel m(c, g);
  models::set_gd_construction(m, 0.3);
  // Scale symmetry: W_KQ x 2, W_PV / 2 is the same function.
  {
    NoGradGuard ng;
    Tensor kq = m.w_kq(), pv = m.w_pv();
    kq.copy_(kq * 2.0);
    pv.copy_(pv / 2.0);
  }
  const IclBatch b = prompts(200, 9, 4);
  const auto r = compare_lsa_with_gd(m, preds(m, b), b, 0.3);
  EXPECT_NEAR(r["weight_cosine"].get<double>(), 1.0, 1e-6);
  EXPECT_NEAR(r["eta_from_weights"].get<double>(), 0.3, 1e-6);
  EXPECT_NEAR(r["weight_relative_residual"].get<double>(), 0.0, 1e-6);
  for (size_t k = 1; k < 9; ++k) {
    EXPECT_LT(r["pred_diff_vs_gd_tuned"][k].get<double>(), 1e-9) << k;
    EXPECT_NEAR(r["pred_cosine_vs_gd_tuned"][k].get<double>(), 1.0, 1e-6) << k;
  }
  EXPECT_TRUE(r["pred_cosine_vs_gd_tuned"][0].is_null());  // k = 0: both predict 0
}

TEST(LsaGdComparison, RandomWeightsAreFarFromGd) {
  Generator g(2);
  models::LsaConfig c;
  c.d = 4;
  c.n_head = 2;
  models::LinearSelfAttentionModel m(c, g);
  const IclBatch b = prompts(200, 9, 4);
  const auto r = compare_lsa_with_gd(m, preds(m, b), b, 0.3);
  EXPECT_LT(std::fabs(r["weight_cosine"].get<double>()), 0.8);
  EXPECT_GT(r["weight_relative_residual"].get<double>(), 0.5);
}
