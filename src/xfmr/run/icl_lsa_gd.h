// How close a trained one-layer LSA model (models/lsa.h) is to von Oswald et al. 2023's gradient-descent
// construction (Prop. 1; set_gd_construction), measured the way their §3 / Fig. 2 does: weights up to the
// model's symmetries, and predictions against one GD step with the best step size.
//
// Weights: a one-layer LSA predicts ŷ = −[Σ_h W_PV[h] S W_KQ[h] (x_q, 0)]_{last} with S = (1/N) Σ_i e_i e_iᵀ, so
// the function is fixed by the tensor T[a][b][c] = −Σ_h W_PV[h][D−1][a] W_KQ[h][b][c] (a, b < D = d + 1, c < d):
// every rescaling W_KQ[h] -> s W_KQ[h], W_PV[h] -> W_PV[h] / s and every unused row or column drops out. The GD
// construction gives T = eta · G with G[a][b][c] = [a = D−1][b = c]. Reported: cos(T, G) (1 = exactly a scaled
// GD step, whatever the scale), the implied step size eta_T = <T, G>/<G, G> = <T, G>/d, and ‖T − eta_T G‖/‖T‖.
//
// Predictions: per k, the mean over prompts of (ŷ_lsa − ŷ_gd)²/d against one GD step from w = 0 with the step
// size tuned on separate prompts (eta_tuned) and with eta_T, and the cosine over prompts of the two prediction
// vectors. Only layer 0 enters the weight comparison (for n_layer > 1 it is reported for layer 0 and marked).
#pragma once
#include <nlohmann/json.hpp>

#include "xfmr/models/lsa.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

// model_pred: the model's predictions [P, n] on `prompts` (read at the x positions); eta_tuned: GD's one-step
// step size tuned elsewhere. Returns the JSON object described above (keys documented in docs/ICL_MODELS.md).
nlohmann::json compare_lsa_with_gd(const models::LinearSelfAttentionModel& model, const Tensor& model_pred,
                                   const IclBatch& prompts, double eta_tuned);

}  // namespace xfmr
