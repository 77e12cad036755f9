#include "xfmr/models/lsa.h"

#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"
#include "xfmr/core/dtype.h"
#include "xfmr/ops/elementwise.h"
#include "xfmr/ops/matmul.h"
#include "xfmr/ops/reduce.h"
#include "xfmr/ops/view.h"

namespace xfmr::models {

void LsaConfig::validate() const {
  XF_CHECK(d > 0, "LinearSelfAttentionModel: model.d must be positive, got ", d);
  XF_CHECK(n_layer > 0, "LinearSelfAttentionModel: model.n_layer must be positive, got ", n_layer);
  XF_CHECK(n_head > 0, "LinearSelfAttentionModel: model.n_head must be positive, got ", n_head);
  XF_CHECK(norm != LsaNorm::kFixed || n_points > 0,
           "LinearSelfAttentionModel: model.n_points must be positive with fixed normalisation, got ", n_points);
  XF_CHECK(init_std >= 0.0, "LinearSelfAttentionModel: model.init_std must be non-negative, got ", init_std);
}

LinearSelfAttentionModel::LinearSelfAttentionModel(const LsaConfig& cfg, Generator& gen, DType dtype)
    : cfg_((cfg.validate(), cfg)) {
  XF_CHECK(dtype == DType::f32 || dtype == DType::f64, "LinearSelfAttentionModel: dtype must be f32 or f64, got ",
           dtype_name(dtype));
  const int64_t D = cfg.d + 1;
  Tensor kq = Tensor::empty({cfg.n_layer, cfg.n_head, D, D}, dtype);
  Tensor pv = Tensor::empty({cfg.n_layer, cfg.n_head, D, D}, dtype);
  normal_(kq, 0.0, cfg.init_std, gen);
  normal_(pv, 0.0, cfg.init_std, gen);
  w_kq_ = register_parameter("w_kq", kq);
  w_pv_ = register_parameter("w_pv", pv);
}

void LinearSelfAttentionModel::check_prompt(const char* what, const Tensor& xs, const Tensor& ys) const {
  XF_CHECK(xs.defined() && ys.defined(), "LinearSelfAttentionModel::", what, ": undefined input");
  XF_CHECK(xs.dim() == 3 && xs.size(2) == cfg_.d && ys.dim() == 2 && ys.size(0) == xs.size(0) &&
               ys.size(1) == xs.size(1),
           "LinearSelfAttentionModel::", what, ": expected xs [B, n, ", cfg_.d, "] and ys [B, n], got xs ",
           xs.shape().str(), " and ys ", ys.shape().str());
  XF_CHECK(xs.dtype() == dtype() && ys.dtype() == dtype(), "LinearSelfAttentionModel::", what,
           ": inputs must have the model's dtype ", dtype_name(dtype()), ", got xs ", dtype_name(xs.dtype()),
           " ", xs.shape().str(), " and ys ", dtype_name(ys.dtype()), " ", ys.shape().str());
}

namespace {

// The token layout as two constant maps (no concat: its std::vector argument would put a heap allocation into
// every training step, and these tensors come from the caching allocator). Both products are exact: each
// output element is one x or y times 1 plus zeros.
//   embed: [d, D] = [I_d | 0] (x into the first d slots),  y_slot: [D] = (0, ..., 0, 1)
struct TokenMaps {
  Tensor embed, y_slot;
};

TokenMaps token_maps(int64_t d, DType dtype) {
  TokenMaps m{Tensor::zeros({d, d + 1}, dtype), Tensor::zeros({d + 1}, dtype)};
  XF_DISPATCH_FLOAT(dtype, "LinearSelfAttentionModel", [&] {
    scalar_t* e = m.embed.data<scalar_t>();
    for (int64_t a = 0; a < d; ++a) e[a * (d + 1) + a] = scalar_t(1);
    m.y_slot.data<scalar_t>()[d] = scalar_t(1);
  });
  return m;
}

// (x, 0) tokens: xs [B, n, d] -> [B, n, d + 1].
Tensor query_tokens(const Tensor& xs, const TokenMaps& m) { return matmul(xs, m.embed); }

// (x, y) tokens: xs [B, n, d], ys [B, n] -> [B, n, d + 1].
Tensor context_tokens(const Tensor& xs, const Tensor& ys, const TokenMaps& m) {
  return query_tokens(xs, m) + unsqueeze(ys, -1) * m.y_slot;
}

// The causal weights of the prefix form: mask[j][i] = 1/norm_j for i < j, else 0 (a constant, no gradient).
Tensor causal_scale(int64_t n, LsaNorm norm, int64_t n_points, DType dtype) {
  Tensor m = Tensor::empty({n, n}, dtype);  // from the caching allocator: no heap allocation in steady state
  XF_DISPATCH_FLOAT(dtype, "LinearSelfAttentionModel", [&] {
    scalar_t* p = m.data<scalar_t>();
    for (int64_t j = 0; j < n; ++j) {
      const double denom = norm == LsaNorm::kVisible ? static_cast<double>(j) : static_cast<double>(n_points);
      const scalar_t s = j > 0 ? static_cast<scalar_t>(1.0 / denom) : scalar_t(0);
      for (int64_t i = 0; i < n; ++i) p[j * n + i] = i < j ? s : scalar_t(0);
    }
  });
  return m;
}

}  // namespace

Tensor LinearSelfAttentionModel::forward(const Tensor& xs, const Tensor& ys) const {
  check_prompt("forward", xs, ys);
  const int64_t n = xs.size(1);
  const TokenMaps maps = token_maps(cfg_.d, dtype());
  Tensor ctx = context_tokens(xs, ys, maps);  // [B, n, D]
  Tensor qry = query_tokens(xs, maps);        // [B, n, D]
  if (n == 0) return neg(select(qry, -1, cfg_.d));  // [B, 0]
  const Tensor scale = causal_scale(n, cfg_.norm, cfg_.n_points, dtype());  // [n, n]
  for (int64_t l = 0; l < cfg_.n_layer; ++l) {
    const Tensor kq = select(w_kq_, 0, l);  // [H, D, D]
    const Tensor pv = select(w_pv_, 0, l);
    const Tensor c4 = unsqueeze(ctx, 1);                     // [B, 1, n, D]
    const Tensor keys = matmul(c4, kq);                      // [B, H, n, D]: row i = (W_KQᵀ c_i)ᵀ
    const Tensor values = matmul(c4, transpose(pv, -1, -2)); // [B, H, n, D]: row i = (W_PV c_i)ᵀ
    const Tensor keys_t = transpose(keys, -1, -2);           // [B, H, D, n]
    // scores[j][i] = c_iᵀ W_KQ e_j, masked to i < j and scaled: then Δe_j = Σ_h Σ_i scores[j][i] W_PV c_i.
    auto update = [&](const Tensor& tok) {
      const Tensor scores = matmul(unsqueeze(tok, 1), keys_t) * scale;  // [B, H, n, n]
      return sum(matmul(scores, values), {1});                          // [B, n, D]
    };
    const Tensor d_qry = update(qry);
    if (l + 1 < cfg_.n_layer) ctx = ctx + update(ctx);  // the last layer's context stream is never read
    qry = qry + d_qry;
  }
  return neg(select(qry, -1, cfg_.d));  // [B, n]
}

Tensor LinearSelfAttentionModel::forward_interleaved(const Tensor& zs) const {
  XF_CHECK(zs.defined() && zs.dim() == 3 && zs.size(2) == cfg_.d && zs.size(1) % 2 == 0,
           "LinearSelfAttentionModel::forward_interleaved: expected an interleaved prompt [B, 2n, ", cfg_.d,
           "], got ", zs.defined() ? zs.shape().str() : std::string("undefined"));
  const int64_t T = zs.size(1);
  return forward(slice(zs, 1, 0, T, 2), select(slice(zs, 1, 1, T, 2), -1, 0));
}

Tensor LinearSelfAttentionModel::forward_query(const Tensor& xs_ctx, const Tensor& ys_ctx,
                                               const Tensor& x_query) const {
  check_prompt("forward_query", xs_ctx, ys_ctx);
  XF_CHECK(x_query.defined() && (x_query.dim() == 2 || x_query.dim() == 3) &&
               x_query.size(0) == xs_ctx.size(0) && x_query.size(-1) == cfg_.d,
           "LinearSelfAttentionModel::forward_query: expected x_query [B, ", cfg_.d, "] or [B, M, ", cfg_.d,
           "] with B = ", xs_ctx.size(0), " (xs_ctx ", xs_ctx.shape().str(), "), got ",
           x_query.defined() ? x_query.shape().str() : std::string("undefined"));
  XF_CHECK(x_query.dtype() == dtype(), "LinearSelfAttentionModel::forward_query: x_query must have the model's dtype ",
           dtype_name(dtype()), ", got ", dtype_name(x_query.dtype()), " ", x_query.shape().str());
  const bool single = x_query.dim() == 2;
  const int64_t N = xs_ctx.size(1);
  const TokenMaps maps = token_maps(cfg_.d, dtype());
  Tensor ctx = context_tokens(xs_ctx, ys_ctx, maps);                        // [B, N, D]
  Tensor qry = query_tokens(single ? unsqueeze(x_query, 1) : x_query, maps);  // [B, M, D]
  if (N > 0) {
    for (int64_t l = 0; l < cfg_.n_layer; ++l) {
      const Tensor kq = select(w_kq_, 0, l);  // [H, D, D]
      const Tensor pv = select(w_pv_, 0, l);
      // Associativity: Σ_i (W_PV e_i)(e_iᵀ W_KQ e_j) = W_PV (Σ_i e_i e_iᵀ) W_KQ e_j, so with tokens as rows every
      // token moves by e_jᵀ M, M = Σ_h W_KQ[h]ᵀ S W_PV[h]ᵀ and S = CᵀC/N (symmetric): O(N·D²), no N×N matrix.
      const Tensor S = matmul(transpose(ctx, 1, 2), ctx) / static_cast<double>(N);  // [B, D, D]
      const Tensor M = sum(matmul(matmul(transpose(kq, -1, -2), unsqueeze(S, 1)), transpose(pv, -1, -2)),
                           {1});  // [B, D, D]
      const Tensor d_qry = matmul(qry, M);
      if (l + 1 < cfg_.n_layer) ctx = ctx + matmul(ctx, M);
      qry = qry + d_qry;
    }
  }
  Tensor pred = neg(select(qry, -1, cfg_.d));  // [B, M]
  return single ? select(pred, 1, 0) : pred;
}

void set_gd_construction(LinearSelfAttentionModel& model, double eta) {
  const int64_t L = model.config().n_layer, H = model.config().n_head, d = model.config().d, D = d + 1;
  NoGradGuard ng;
  Tensor kq = model.w_kq(), pv = model.w_pv();  // handles sharing the parameters' storage
  kq.zero_();
  pv.zero_();
  XF_DISPATCH_FLOAT(model.dtype(), "set_gd_construction", [&] {
    scalar_t* k = kq.data<scalar_t>();
    scalar_t* p = pv.data<scalar_t>();
    for (int64_t l = 0; l < L; ++l) {
      const int64_t head0 = l * H * D * D;
      for (int64_t a = 0; a < d; ++a) k[head0 + a * D + a] = scalar_t(1);  // W_KQ = [[I_d, 0], [0, 0]]
      p[head0 + d * D + d] = static_cast<scalar_t>(-eta);                // W_PV = [[0, 0], [0, −eta]]
    }
  });
}

}  // namespace xfmr::models
