// Internal to the attention family (ops/attention.cc, ops/attention_reference.cc): the shared argument checks,
// so the fused op and its unfused oracle accept and reject exactly the same inputs.
#pragma once
#include <cmath>
#include <cstdint>

#include "xfmr/core/strided.h"
#include "xfmr/core/tensor.h"
#include "xfmr/ops/attention.h"

namespace xfmr::detail {

struct AttentionDims {
  int64_t B, Hq, Hkv, T, S, D, Dv;
  double scale;
  Strides mask_strides;  // strides of the mask broadcast to [B, Hq, T, S] (valid when a mask is given)
};

inline AttentionDims check_attention_args(const Tensor& q, const Tensor& k, const Tensor& v,
                                          const AttentionOptions& opt, const char* op) {
  check_float(q, op);
  check_same_dtype(q, k, op);
  check_same_dtype(q, v, op);
  XF_CHECK(q.dtype() == DType::f32 || q.dtype() == DType::f64, op, ": unsupported dtype ", dtype_name(q.dtype()),
           " (expected f32 or f64)");
  XF_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op,
           ": expected q [B, Hq, T, D], k [B, Hkv, S, D], v [B, Hkv, S, Dv], got q ", q.shape().str(), ", k ",
           k.shape().str(), ", v ", v.shape().str());
  AttentionDims d{q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), v.size(3), opt.scale, {}};
  const auto shapes = [&] { return detail::concat("q ", q.shape().str(), ", k ", k.shape().str(), ", v ", v.shape().str()); };
  XF_CHECK(k.size(0) == d.B && v.size(0) == d.B, op, ": batch sizes differ: ", shapes());
  XF_CHECK(v.size(1) == d.Hkv && v.size(2) == d.S, op, ": k and v must agree on heads and length: ", shapes());
  XF_CHECK(k.size(3) == d.D, op, ": q and k head dims differ (", d.D, " vs ", k.size(3), "): ", shapes());
  XF_CHECK(d.Hkv > 0 && d.Hq % d.Hkv == 0, op, ": query heads (", d.Hq, ") must be a multiple of kv heads (", d.Hkv,
           "): ", shapes());
  XF_CHECK(std::isfinite(opt.scale) && opt.scale >= 0, op, ": scale must be finite and >= 0 (0 = 1/sqrt(D)), got ",
           opt.scale);
  XF_CHECK(opt.block_q >= 0 && opt.block_k >= 0, op, ": tile sizes must be >= 0 (0 = automatic), got block_q ",
           opt.block_q, ", block_k ", opt.block_k);
  XF_CHECK(opt.dropout_p >= 0 && opt.dropout_p < 1, op, ": dropout_p must lie in [0, 1), got ", opt.dropout_p,
           " (", shapes(), ")");
  if (d.scale == 0) d.scale = d.D > 0 ? 1.0 / std::sqrt(static_cast<double>(d.D)) : 1.0;
  if (opt.mask.defined()) {
    const Tensor& m = opt.mask;
    XF_CHECK(m.dtype() == q.dtype(), op, ": mask must be an additive float mask of dtype ", dtype_name(q.dtype()),
             " (0 = keep, -inf = block), got ", dtype_name(m.dtype()), " ", m.shape().str());
    const Shape full{d.B, d.Hq, d.T, d.S};
    bool ok = m.dim() <= 4;
    for (int i = 0; ok && i < m.dim(); ++i) {
      const int64_t want = full[4 - m.dim() + i];
      ok = m.size(i) == want || m.size(i) == 1;
    }
    XF_CHECK(ok, op, ": mask of shape ", m.shape().str(), " does not broadcast to [B, Hq, T, S] = ", full.str());
    XF_CHECK(!m.requires_grad(), op, ": the mask receives no gradient; pass mask.detach() (mask ",
             m.shape().str(), ")");
    d.mask_strides = broadcast_strides(m, full);
  }
  return d;
}

}  // namespace xfmr::detail
