#include "xfmr/ops/attention.h"

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

}  // namespace xfmr
