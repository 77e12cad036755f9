// Linear self-attention only (LSA): the model of von Oswald et al. 2023, "Transformers learn in-context by
// gradient descent" (§2–3), and of Zhang, Frei & Bartlett 2023, "Trained Transformers Learn Linear Models
// In-Context" (§3). No softmax, no MLP, no LayerNorm, no positional embedding: just residual linear attention
// layers acting on tokens that each hold one (x, y) pair.
//
// Tokens (von Oswald's layout, D = d + 1): a context token is e_i = (x_i, y_i); a query token is (x_q, 0).
// One layer with H heads updates a token e_j by
//     e_j <- e_j + (1/N) Σ_h Σ_{i in context} (W_PV[h] e_i)(e_iᵀ W_KQ[h] e_j)
//          = e_j + Σ_h W_PV[h] S W_KQ[h] e_j,      S = (1/N) Σ_i e_i e_iᵀ
// where W_PV = P·W_V and W_KQ = W_Kᵀ W_Q are the merged products (ZFB's parametrisation; the products are
// all that a linear attention layer can express). The sum runs over the context tokens only: the query
// never attends to itself (unlike ZFB's unmasked E + W_PV E (Eᵀ W_KQ E)/N, whose query column contributes
// (W_PV e_q)(e_qᵀ W_KQ e_j)/N). Context tokens are updated too (they attend to every context token,
// themselves included), which is what lets stacked layers carry residuals (see set_gd_construction).
//
// Prediction: ŷ = −(last coordinate of the query token after L layers), von Oswald's sign convention
// (the y slot of the query starts at 0 and the GD layer writes y_q − ΔW x_q = −ŵ·x_q into it).
//
// Cost: the layer is associative, so forward_query forms S once per layer (O(N·D²)) instead of the N×N
// attention matrix; forward (all prefixes at once) uses the masked N×N form, O(n²·D) per head.
#pragma once
#include <cstdint>

#include "xfmr/core/rng.h"
#include "xfmr/core/tensor.h"
#include "xfmr/nn/module.h"

namespace xfmr::models {

// How the prefix form (forward) normalises token j's attention sum over the j tokens before it.
enum class LsaNorm {
  kVisible,  // 1/j: each prefix is a prompt of j examples, as in forward_query with N = j (default)
  kFixed,    // 1/n_points: a constant, as in a causal linear transformer with a fixed 1/N scale
};

struct LsaConfig {
  int64_t d = 5;         // input dimension (tokens have d + 1 coordinates)
  int64_t n_layer = 1;
  int64_t n_head = 1;
  LsaNorm norm = LsaNorm::kVisible;
  int64_t n_points = 0;  // the constant N of LsaNorm::kFixed (must be positive then; unused by kVisible)
  double init_std = 0.1; // weights start N(0, init_std²) elementwise
  void validate() const; // Error naming the bad field
};

class LinearSelfAttentionModel : public Module {
 public:
  LinearSelfAttentionModel(const LsaConfig& cfg, Generator& gen, DType dtype = DType::f32);

  // Every position is a query ("predict y_j from the first j points", for all j at once, as the GPT model
  // does): xs: [B, n, d], ys: [B, n] -> [B, n], prediction j from (x_i, y_i)_{i<j} and x_j; position 0 sees
  // nothing and predicts 0.
  // Two token streams share the weights: the query stream holds (x_j, 0) so y_j never leaks into its own
  // prediction, and the context stream holds (x_j, y_j). In every layer token j of either stream attends to
  // context tokens i < j (strictly causal), scaled by 1/j (kVisible) or 1/n_points (kFixed). With one layer
  // and kVisible, prediction j equals forward_query on the first j points exactly. With L >= 2 it does not:
  // a context token i can only see tokens before it, whereas forward_query's context tokens see the whole
  // context; so the prefix form is a causal model in its own right, not L-layer forward_query at every prefix.
  Tensor forward(const Tensor& xs, const Tensor& ys) const;

  // The same on the interleaved prompt of tasks/icl_linear.h (interleave_prompt), so the model is a drop-in for
  // IclTransformer::forward: zs: [B, 2n, d] with x_i at even and (y_i, 0, ..., 0) at odd positions -> [B, n].
  // The zero padding of the y tokens is ignored.
  Tensor forward_interleaved(const Tensor& zs) const;

  // One prompt per batch row with an explicit context and queries (von Oswald's / ZFB's setting):
  // xs_ctx: [B, N, d], ys_ctx: [B, N], x_query: [B, d] -> [B]   or   x_query: [B, M, d] -> [B, M]
  // (M queries are independent: none attends to another or to itself). Scaled by 1/N. N = 0 predicts 0.
  Tensor forward_query(const Tensor& xs_ctx, const Tensor& ys_ctx, const Tensor& x_query) const;

  // The weights: [n_layer, n_head, d + 1, d + 1] each; w_kq()[l][h] is W_KQ of head h in layer l.
  const Tensor& w_kq() const { return w_kq_; }
  const Tensor& w_pv() const { return w_pv_; }
  const LsaConfig& config() const { return cfg_; }
  DType dtype() const { return w_kq_.dtype(); }

 private:
  // Checks x: [B, n, d] (and y: [B, n] when given) against the model; `what` names the entry point.
  void check_prompt(const char* what, const Tensor& xs, const Tensor& ys) const;

  LsaConfig cfg_;
  Tensor w_kq_;
  Tensor w_pv_;
};

// von Oswald et al. 2023, Prop. 1 with W_0 = 0: sets head 0 of every layer to
//     W_KQ = [[I_d, 0], [0, 0]],   W_PV = [[0, 0], [0, −eta]]
// and every other head to zero (no autograd history is recorded). One such layer gives the query
//     y_q <- 0 − (eta/N) Σ_i y_i x_iᵀ x_q,   so ŷ = −y_q = (eta/N) Σ_i y_i x_iᵀ x_q,
// one step of GD from w = 0 with step size eta on L(w) = (1/2N) Σ_i (w·x_i − y_i)².
// Stacking: each context token's y slot becomes y_i − w_1·x_i (its negated residual) while x stays fixed,
// so in forward_query K such layers give exactly K GD steps from w = 0 (the query slot holds −w_K·x_q).
// That exactness does not carry over to forward's causal context stream for K >= 2 (see forward).
void set_gd_construction(LinearSelfAttentionModel& model, double eta);

}  // namespace xfmr::models
