#include "xfmr/ops/attention.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/kernels/cpu/attention_flash.h"
#include "xfmr/ops/attention_common.h"

namespace xfmr {

namespace {
// The kernels read contiguous buffers; a detached handle when x already is one, else one copy.
Tensor contiguous_data(const Tensor& x) { return x.is_contiguous() ? x.detach() : x.contiguous_copy(); }
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

  const Tensor qc = contiguous_data(q), kc = contiguous_data(k), vc = contiguous_data(v);
  Tensor out = Tensor::empty({d.B, d.Hq, d.T, d.Dv}, q.dtype());
  Tensor lse = Tensor::empty({d.B, d.Hq, d.T}, q.dtype());  // per-row logsumexp: all that backward needs
  XF_DISPATCH_FLOAT(q.dtype(), op, [&] {
    kernels::flash_attention_forward<scalar_t>(p, qc.data<scalar_t>(), kc.data<scalar_t>(), vc.data<scalar_t>(),
                                               mask.defined() ? mask.data<scalar_t>() : nullptr,
                                               out.data<scalar_t>(), lse.data<scalar_t>());
  });

  if (needs_grad(q, k, v)) {
    record(op, out, {&q, &k, &v}, [qc, kc, vc, mask, lse, o = out.detach(), p](const Tensor& g, GradSlots& gs) {
      const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
      Tensor dq = Tensor::empty(qc.shape(), qc.dtype());
      Tensor dk = Tensor::empty(kc.shape(), kc.dtype());
      Tensor dv = Tensor::empty(vc.shape(), vc.dtype());
      XF_DISPATCH_FLOAT(qc.dtype(), "scaled_dot_product_attention backward", [&] {
        kernels::flash_attention_backward<scalar_t>(
            p, qc.data<scalar_t>(), kc.data<scalar_t>(), vc.data<scalar_t>(),
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
  // heads [3, B, H, T, D] (q, k, v contiguous one after the other): one strided copy splits all three.
  const Tensor qc = qkv.is_contiguous() ? qkv.detach() : qkv.contiguous_copy();
  const Shape split_shape{3, B, H, T, D};
  const Strides packed_strides{C, T * 3 * C, D, 3 * C, 1};  // element (i, b, h, t, d) of qkv [B, T, 3, H, D]
  Tensor heads = Tensor::empty(split_shape, dt);
  heads.copy_(qc.as_strided(split_shape, packed_strides, qc.offset()));
  Tensor o = Tensor::empty({B, H, T, D}, dt);
  Tensor lse = Tensor::empty({B, H, T}, dt);
  const int64_t n = B * H * T * D;
  XF_DISPATCH_FLOAT(dt, op, [&] {
    const scalar_t* hp = heads.data<scalar_t>();
    kernels::flash_attention_forward<scalar_t>(p, hp, hp + n, hp + 2 * n, nullptr, o.data<scalar_t>(),
                                               lse.data<scalar_t>());
  });
  // [B, H, T, D] -> [B, T, H, D]
  out.as_strided({B, H, T, D}, {T * C, D, C, 1}, 0).copy_(o);

  if (needs_grad(qkv)) {
    record(op, out, {&qkv}, [heads, o, lse, p, n, split_shape, packed_strides](const Tensor& g, GradSlots& gs) {
      const int64_t Bg = p.B, Tg = p.T, Hg = p.Hq, Dg = p.D, Cg = Hg * Dg;
      // dout [B, T, C] viewed as [B, H, T, D], made contiguous for the kernel.
      Tensor gc = Tensor::empty({Bg, Hg, Tg, Dg}, g.dtype());
      gc.copy_(g.as_strided({Bg, Hg, Tg, Dg}, {g.stride(0), Dg * g.stride(2), g.stride(1), g.stride(2)},
                            g.offset()));
      Tensor dheads = Tensor::empty(split_shape, g.dtype());
      XF_DISPATCH_FLOAT(g.dtype(), "packed_self_attention backward", [&] {
        const scalar_t* hp = heads.data<scalar_t>();
        scalar_t* dp = dheads.data<scalar_t>();
        kernels::flash_attention_backward<scalar_t>(p, hp, hp + n, hp + 2 * n, nullptr, o.data<scalar_t>(),
                                                    lse.data<scalar_t>(), gc.data<scalar_t>(), dp, dp + n,
                                                    dp + 2 * n);
      });
      Tensor dqkv = Tensor::empty({Bg, Tg, 3 * Cg}, g.dtype());
      dqkv.as_strided(split_shape, packed_strides, 0).copy_(dheads);
      gs.g[0] = dqkv;
    });
  }
  return out;
}

}  // namespace xfmr
