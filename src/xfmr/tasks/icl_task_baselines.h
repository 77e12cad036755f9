// Baselines that need to know the task, not just the context: ridge on the true representation Φ(x) for
// fixed_representation prompts (Guo et al. 2023's oracle) and Zhang, Frei & Bartlett's closed-form LSA predictor
// (baselines/zfb_closed_form.h). Every other name goes to make_icl_baseline (baselines/catalog.h).
#pragma once
#include <cstdint>
#include <string>

#include "xfmr/baselines/catalog.h"
#include "xfmr/tasks/icl_tasks.h"

namespace xfmr {

struct IclTaskBaselineContext {
  IclTaskParams task;    // the prompts' class and parameters
  int64_t d = 0;         // prompt dimension
  int64_t n_points = 0;  // prompt length the model was trained on
};

// Names beyond the catalog's:
//   ridge_phi   ridge with λ = task.noise_std² on Φ(x) (task.kind = fixed_representation; Bayes-optimal there)
//   zfb         x_qᵀ Γ_N⁻¹ (1/k) Σ y_i x_i with Λ = I_d and N = n_points − 1 (ZFB Theorem 4.1, one training length)
//   zfb_prefix  the same with Γ averaged over N = 1..n_points − 1 (what prefix training converges to)
IclPredictor make_icl_task_baseline(const std::string& name, const IclTaskBaselineContext& ctx,
                                    const IclBaselineOptions& opt);

}  // namespace xfmr
