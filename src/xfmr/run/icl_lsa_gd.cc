#include "xfmr/run/icl_lsa_gd.h"

#include <cmath>
#include <vector>

#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/eval/error_curve.h"
#include "xfmr/ops/view.h"

namespace xfmr {

namespace {

std::vector<double> to_vec(const Tensor& t) {
  const Tensor c = contiguous(to_dtype(t.detach(), DType::f64));
  return std::vector<double>(c.data<double>(), c.data<double>() + c.numel());
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json compare_lsa_with_gd(const models::LinearSelfAttentionModel& model, const Tensor& model_pred,
                                   const IclBatch& prompts, double eta_tuned) {
  const int64_t d = model.config().d, D = d + 1, H = model.config().n_head;
  const std::vector<double> kq = to_vec(model.w_kq()), pv = to_vec(model.w_pv());  // [L, H, D, D], layer 0 first
  // T[a][b][c] and <T, G>, ‖T‖².
  double tg = 0, tt = 0;
  std::vector<double> T(static_cast<size_t>(D * D * d), 0.0);
  for (int64_t a = 0; a < D; ++a)
    for (int64_t b = 0; b < D; ++b)
      for (int64_t c = 0; c < d; ++c) {
        double s = 0;
        for (int64_t h = 0; h < H; ++h) s -= pv[(h * D + (D - 1)) * D + a] * kq[(h * D + b) * D + c];
        T[(a * D + b) * d + c] = s;
        tt += s * s;
        if (a == D - 1 && b == c) tg += s;
      }
  const double eta_T = tg / static_cast<double>(d);
  double resid = 0;
  for (int64_t a = 0; a < D; ++a)
    for (int64_t b = 0; b < D; ++b)
      for (int64_t c = 0; c < d; ++c) {
        const double r = T[(a * D + b) * d + c] - (a == D - 1 && b == c ? eta_T : 0.0);
        resid += r * r;
      }
  nlohmann::json out;
  out["n_layer"] = model.config().n_layer;
  out["weights_layer"] = 0;
  out["weight_cosine"] = num(tt > 0 ? tg / std::sqrt(tt * static_cast<double>(d)) : NAN);
  out["eta_from_weights"] = eta_T;
  out["weight_relative_residual"] = num(tt > 0 ? std::sqrt(resid / tt) : NAN);
  out["eta_tuned"] = eta_tuned;

  const std::vector<double> mp = to_vec(model_pred);
  const int64_t P = prompts.xs.size(0), n = prompts.xs.size(1);
  auto gd_preds = [&](double eta) {
    GradientDescent g(1, eta);
    return to_vec(predict_all([g](const IclContext& c, const double* x) mutable { return g(c, x); }, prompts));
  };
  // GD needs a positive step: a model whose weights point away from the construction (eta_T <= 0) gets nulls.
  const bool eta_T_usable = std::isfinite(eta_T) && eta_T > 0;
  const std::vector<double> g_tuned = gd_preds(eta_tuned);
  const std::vector<double> g_w = eta_T_usable ? gd_preds(eta_T) : std::vector<double>(g_tuned.size(), NAN);
  nlohmann::json diff_tuned = nlohmann::json::array(), diff_w = nlohmann::json::array(), cosv = nlohmann::json::array();
  for (int64_t k = 0; k < n; ++k) {
    double e1 = 0, e2 = 0, ab = 0, aa = 0, bb = 0;
    for (int64_t p = 0; p < P; ++p) {
      const double m = mp[p * n + k], a = g_tuned[p * n + k], b = g_w[p * n + k];
      e1 += (m - a) * (m - a);
      e2 += (m - b) * (m - b);
      ab += m * a;
      aa += m * m;
      bb += a * a;
    }
    diff_tuned.push_back(num(e1 / static_cast<double>(P * d)));
    diff_w.push_back(num(e2 / static_cast<double>(P * d)));
    cosv.push_back(num(aa > 1e-300 && bb > 1e-300 ? ab / std::sqrt(aa * bb) : NAN));
  }
  out["pred_diff_vs_gd_tuned"] = diff_tuned;
  out["pred_diff_vs_gd_eta_from_weights"] = diff_w;
  out["pred_cosine_vs_gd_tuned"] = cosv;
  return out;
}

}  // namespace xfmr
