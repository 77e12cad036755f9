#include "xfmr/ops/attention.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/kernels/cpu/attention_flash.h"
#include "xfmr/ops/attention_common.h"

namespace xfmr {

namespace {
// The kernels read a [B, H, T, D] operand through the strides of its first three dims, its D elements contiguous:
// a detached handle when x already has unit stride along D (any transpose of the heads, e.g. a [B, T, H, D]
// projection viewed as [B, H, T, D]), else one contiguous copy.
// A row stride of 0 (rows broadcast along T) cannot be expressed: FlashLayout t == 0 means "contiguous".
bool rows_addressable(const Tensor& x, int row_dim) {
  return x.stride(x.dim() - 1) == 1 && (x.stride(row_dim) != 0 || x.size(row_dim) <= 1);
}

Tensor kernel_operand(const Tensor& x) { return rows_addressable(x, 2) ? x.detach() : x.contiguous_copy(); }

kernels::FlashLayout layout_of(const Tensor& x) {
  // A size-1 dim's stride is never used, so a row stride of 0 there may become any non-zero value.
  return {x.stride(0), x.stride(1), x.stride(2) != 0 ? x.stride(2) : 1};
}
}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  constexpr const char* op = "scaled_dot_product_attention";
  const detail::AttentionDims d = detail::check_attention_args(q, k, v, opt, op);
  kernels::FlashAttentionParams p;
  p.B = d.B, p.Hq = d.Hq, p.Hkv = d.Hkv, p.T = d.T, p.S = d.S, p.D = d.D, p.Dv = d.Dv;
  p.scale = d.scale;
  p.causal = opt.causal;
  p.block_q = opt.block_q;
  p.block_k = opt.block_k;
  p.dropout_p = opt.dropout_p;
  p.dropout_seed = opt.dropout_seed;
  const Tensor mask = opt.mask.defined() ? opt.mask.detach() : Tensor();
  if (mask.defined())
    for (int i = 0; i < 4; ++i) p.mask_strides[i] = d.mask_strides[i];

  const Tensor qc = kernel_operand(q), kc = kernel_operand(k), vc = kernel_operand(v);
  p.q_layout = layout_of(qc), p.k_layout = layout_of(kc), p.v_layout = layout_of(vc);
  Tensor out = Tensor::empty({d.B, d.Hq, d.T, d.Dv}, q.dtype());
  Tensor lse = Tensor::empty({d.B, d.Hq, d.T}, q.dtype());  // per-row logsumexp: all that backward needs
  XF_DISPATCH_FLOAT(q.dtype(), op, [&] {
    kernels::flash_attention_forward<scalar_t>(p, qc.data<scalar_t>(), kc.data<scalar_t>(), vc.data<scalar_t>(),
                                               mask.defined() ? mask.data<scalar_t>() : nullptr,
                                               out.data<scalar_t>(), lse.data<scalar_t>());
  });

  if (needs_grad(q, k, v)) {
    record(op, out, {&q, &k, &v}, [qc, kc, vc, mask, lse, o = out.detach(), p](const Tensor& g, GradSlots& gs) {
      const Tensor gc = kernel_operand(g);
      kernels::FlashAttentionParams pb = p;
      pb.dout_layout = layout_of(gc);
      Tensor dq = Tensor::empty(qc.shape(), qc.dtype());
      Tensor dk = Tensor::empty(kc.shape(), kc.dtype());
      Tensor dv = Tensor::empty(vc.shape(), vc.dtype());
      XF_DISPATCH_FLOAT(qc.dtype(), "scaled_dot_product_attention backward", [&] {
        kernels::flash_attention_backward<scalar_t>(
            pb, qc.data<scalar_t>(), kc.data<scalar_t>(), vc.data<scalar_t>(),
            mask.defined() ? mask.data<scalar_t>() : nullptr, o.data<scalar_t>(), lse.data<scalar_t>(),
            gc.data<scalar_t>(), dq.data<scalar_t>(), dk.data<scalar_t>(), dv.data<scalar_t>());
      });
      if (gs.needed[0]) gs.g[0] = dq;
      if (gs.needed[1]) gs.g[1] = dk;
      if (gs.needed[2]) gs.g[2] = dv;
    });
  }
  return out;
}

Tensor packed_self_attention(const Tensor& qkv, int64_t n_head, bool causal, double dropout_p,
                             uint64_t dropout_seed) {
  constexpr const char* op = "packed_self_attention";
  check_float(qkv, op);
  XF_CHECK(qkv.dim() == 3, op, ": expected qkv [B, T, 3*C], got ", qkv.shape().str());
  XF_CHECK(n_head > 0 && qkv.size(2) % (3 * n_head) == 0, op, ": last dim of qkv ", qkv.shape().str(),
           " is not 3 * n_head * head_dim for n_head ", n_head);
  XF_CHECK(dropout_p >= 0 && dropout_p < 1, op, ": dropout_p must lie in [0, 1), got ", dropout_p, " (qkv ",
           qkv.shape().str(), ")");
  const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = n_head, D = C / n_head;
  kernels::FlashAttentionParams p;
  p.B = B, p.Hq = H, p.Hkv = H, p.T = T, p.S = T, p.D = D, p.Dv = D;
  p.scale = D > 0 ? 1.0 / std::sqrt(static_cast<double>(D)) : 1.0;
  p.causal = causal;
  p.dropout_p = dropout_p;
  p.dropout_seed = dropout_seed;
  const DType dt = qkv.dtype();
  Tensor out = Tensor::empty({B, T, C}, dt);
  if (out.numel() == 0 || T == 0) {
    if (out.numel() > 0) out.zero_();
    return out;
  }
  // The kernels read q, k, v straight out of qkv [B, T, 3, H, D] and write out [B, T, H, D] in place: head h's
  // row t of q is at b*T*3C + t*3C + h*D (k and v C and 2C further on), of out at b*T*C + t*C + h*D. A qkv
  // whose last dim is strided is copied once; any other strides are read as they are.
  const Tensor qc = rows_addressable(qkv, 1) ? qkv.detach() : qkv.contiguous_copy();
  const kernels::FlashLayout in_layout{qc.stride(0), D * qc.stride(2), qc.stride(1) != 0 ? qc.stride(1) : 1};
  p.q_layout = p.k_layout = p.v_layout = in_layout;
  p.out_layout = {T * C, D, C};
  Tensor lse = Tensor::empty({B, H, T}, dt);
  XF_DISPATCH_FLOAT(dt, op, [&] {
    const scalar_t* x = qc.data<scalar_t>();
    kernels::flash_attention_forward<scalar_t>(p, x, x + C, x + 2 * C, nullptr, out.data<scalar_t>(),
                                               lse.data<scalar_t>());
  });

  if (needs_grad(qkv)) {
    record(op, out, {&qkv}, [qc, o = out.detach(), lse, p](const Tensor& g, GradSlots& gs) {
      const int64_t Bg = p.B, Tg = p.T, Cg = p.Hq * p.D;
      // dout [B, T, C] read as [B, H, T, D] in place; dq, dk, dv written straight into dqkv [B, T, 3C].
      const Tensor gc = rows_addressable(g, 1) ? g : g.contiguous_copy();
      kernels::FlashAttentionParams pb = p;
      pb.dout_layout = {gc.stride(0), p.D, gc.stride(1) != 0 ? gc.stride(1) : 1};
      pb.dq_layout = pb.dk_layout = pb.dv_layout = {Tg * 3 * Cg, p.D, 3 * Cg};
      Tensor dqkv = Tensor::empty({Bg, Tg, 3 * Cg}, g.dtype());
      XF_DISPATCH_FLOAT(g.dtype(), "packed_self_attention backward", [&] {
        const scalar_t* x = qc.data<scalar_t>();
        scalar_t* dx = dqkv.data<scalar_t>();
        kernels::flash_attention_backward<scalar_t>(pb, x, x + Cg, x + 2 * Cg, nullptr, o.data<scalar_t>(),
                                                    lse.data<scalar_t>(), gc.data<scalar_t>(), dx, dx + Cg,
                                                    dx + 2 * Cg);
      });
      gs.g[0] = dqkv;
    });
  }
  return out;
}

}  // namespace xfmr
