// The predictor that one linear self-attention layer trained by gradient flow on in-context linear regression
// converges to (Zhang, Frei & Bartlett 2023, "Trained Transformers Learn Linear Models In-Context",
// arXiv:2306.09927, Theorem 4.1; JMLR 25(49), 2024): with training prompts of N labelled examples x_i ~ N(0, Λ),
// w ~ N(0, I_d), y_i = w·x_i, the trained layer predicts, on a test prompt of M examples,
//     ŷ = x_qᵀ Γ⁻¹ (1/M) Σ_{i=1..M} y_i x_i,      Γ = (1 + 1/N) Λ + (tr(Λ)/N) I_d.
// Γ comes from the fourth moment of Gaussian x: with S = (1/N) Σ x_i x_iᵀ, E[S²] = Λ Γ, and
// U = Γ⁻¹ minimises E[(x_qᵀ U S w − x_qᵀ w)²] (so the layer is "one step of preconditioned GD", not least squares:
// for M → ∞ it predicts x_qᵀ Γ⁻¹ Λ w ≠ x_qᵀ w at finite N).
//
// Our LSA model (models/lsa.h, kVisible) is trained on every prefix of a prompt of n points at once (prefix j has
// j examples, scaled 1/j). The population objective is then the average over j = 1..n−1 of ZFB's objective with
// N = j, whose minimiser is U = (mean_j Γ_j)⁻¹ (each term's gradient is Λ U Λ Γ_j − Λ², Λ and Γ_j commuting).
// `prefix_averaged` builds that Γ; `for_train_length(N)` is the paper's single-length Γ.
#pragma once
#include <cstdint>
#include <vector>

#include "xfmr/baselines/context.h"

namespace xfmr {

// Γ [d, d] row-major for covariance Λ [d, d] (symmetric) and training length N > 0.
std::vector<double> zfb_gamma(const std::vector<double>& lambda, int64_t d, double n_train);

class ZfbClosedForm {
 public:
  // gamma: [d, d], symmetric positive definite (Error otherwise: a zero pivot names the op).
  ZfbClosedForm(const std::vector<double>& gamma, int64_t d);
  static ZfbClosedForm for_train_length(const std::vector<double>& lambda, int64_t d, int64_t n_train);
  // Γ = mean over N = 1..n_points−1 of Γ_N (the prefix objective's minimiser; see above). n_points >= 2.
  static ZfbClosedForm prefix_averaged(const std::vector<double>& lambda, int64_t d, int64_t n_points);
  static std::vector<double> identity(int64_t d);  // Λ = I_d, the isotropic prompts of task.kind=linear

  const std::vector<double>& gamma() const { return gamma_; }
  const std::vector<double>& gamma_inv() const { return inv_; }
  int64_t d() const { return d_; }
  // x_qᵀ Γ⁻¹ (1/k) Σ y_i x_i; 0 for k = 0. ctx.d must equal d().
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  int64_t d_;
  std::vector<double> gamma_, inv_, v_;
};

}  // namespace xfmr
