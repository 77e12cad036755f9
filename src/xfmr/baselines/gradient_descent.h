// Gradient descent as an in-context learner: `steps` full-batch steps from w = 0 on L(w) = (1/2k)‖Xw − y‖²,
// w <- w − eta·(1/k)·Xᵀ(Xw − y), predicting w·x. For 0 < eta < 2/λ_max(XᵀX/k) and many steps it converges to the
// minimum-norm least-squares solution (starting at 0 keeps w in the row space of X); few steps act like a
// regulariser. One step with a tuned eta is the construction that linear self-attention implements
// (von Oswald et al. 2023). Empty context -> 0.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "xfmr/baselines/context.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

class GradientDescent {
 public:
  GradientDescent(int64_t steps, double eta);
  void fit(const IclContext& ctx, double* w);  // w: [ctx.d]
  double operator()(const IclContext& ctx, const double* x_query);

 private:
  int64_t steps_;
  double eta_;
  std::vector<double> w_, r_, g_;
};

struct GdTuneResult {
  double eta = 0.0;            // the chosen step size
  std::vector<double> grid;    // the candidates, ascending
  std::vector<double> error;   // mean error per candidate (+inf where GD diverged)
};

// The default candidates: 10^(-3 + i/4) for i = 0..16 (1e-3 to 10, four per decade).
std::vector<double> gd_default_eta_grid();

// Picks GD's step size for `steps` steps by held-out error: generates n_prompts prompts with
// sample_icl_linear(n_prompts, cfg.n_points, cfg.d, cfg.d, cfg.noise_std, Generator(seed)) and, for each candidate,
// averages the normalised squared error (prediction − y_{k+1})²/d over all prompts and all k = 1..n_points−1
// (k = 0 predicts 0 for every eta). The candidate of least mean error wins; ties go to the smaller eta; a
// non-finite prediction scores +inf (divergence). Use a seed different from the evaluation prompts' seed so the
// tuned eta is not fitted to the test set. Caveat: a fixed eta diverges on any prompt whose XᵀX/k has an
// eigenvalue above 2/eta (at k = 1: ‖x‖² > 2/eta, e.g. P(χ²_5 > 20) ≈ 1e-3 for d = 5, eta = 0.1), so a rare
// evaluation prompt can blow up the mean even when none of the n_prompts tuning prompts did. Cost: |grid|·n_prompts·n·steps·2nd flops (parallel over prompts).
GdTuneResult tune_gd_step_size(int64_t steps, const IclLinearConfig& cfg, int64_t n_prompts = 256,
                               uint64_t seed = 0x5eed, std::span<const double> grid = {});
// The same on given tuning prompts (any function class; P = prompts.xs.size(0)), errors normalised by d.
GdTuneResult tune_gd_step_size(int64_t steps, const IclBatch& prompts, std::span<const double> grid = {});

}  // namespace xfmr
