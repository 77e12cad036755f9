#include "xfmr/ops/attention_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/attention_flash.h"
#include "xfmr/kernels/cpu/attention_gemm.h"
#include "xfmr/ops/attention_common.h"

namespace xfmr {

namespace {

using kernels::attn::gemm;

// Attention-probability dropout as the fused kernel defines it (kernels::attention_dropout_keep), applied
// element by element: Z[b, h, t, s] = keep / (1 - p).
struct RefDropout {
  double p = 0;
  uint64_t seed = 0;
  template <class T>
  T z(int64_t r, int64_t s, const detail::AttentionDims& d) const {
    const int64_t t = r % d.T, h = (r / d.T) % d.Hq, b = r / (d.T * d.Hq);
    return kernels::attention_dropout_keep(seed, p, b, h, t, s) ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  }
};

// The textbook computation, one whole head at a time: S = scale Q Kᵀ (+ mask, causal -inf), P = softmax(S),
// O = P V. Each GEMM is a full [T, S] product issued from the calling thread, so OpenBLAS threads it.
// With dropout, Pd receives Z ∘ P and O = Pd V (P stays undropped for the backward); else Pd may equal P.
template <class T>
void reference_forward(const detail::AttentionDims& d, bool causal, const RefDropout& drop, const T* q, const T* k,
                       const T* v, const T* mask, T* P, T* Pd, T* out) {
  const int64_t group = d.Hq / d.Hkv, off = d.S - d.T;
  const Strides& ms = d.mask_strides;
  for (int64_t bh = 0; bh < d.B * d.Hq; ++bh) {
    const int64_t kvh = (bh / d.Hq) * d.Hkv + (bh % d.Hq) / group;
    gemm(false, true, d.T, d.S, d.D, static_cast<T>(d.scale), q + bh * d.T * d.D, d.D, k + kvh * d.S * d.D, d.D,
         T(0), P + bh * d.T * d.S, d.S);
  }
  parallel_for(d.B * d.Hq * d.T, std::max<int64_t>(16, 65536 / std::max<int64_t>(d.S, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t t = r % d.T, h = (r / d.T) % d.Hq, b = r / (d.T * d.Hq);
      T* row = P + r * d.S;
      if (mask) {
        const T* m = mask + b * ms[0] + h * ms[1] + t * ms[2];
        for (int64_t s = 0; s < d.S; ++s) row[s] += m[s * ms[3]];
      }
      if (causal)
        for (int64_t s = std::max<int64_t>(0, t + off + 1); s < d.S; ++s) row[s] = -std::numeric_limits<T>::infinity();
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t s = 0; s < d.S; ++s) mx = std::max(mx, row[s]);
      if (mx == -std::numeric_limits<T>::infinity()) {  // no visible key: output 0 (documented in attention.h)
        std::fill(row, row + d.S, T(0));
        if (drop.p > 0) std::fill(Pd + r * d.S, Pd + (r + 1) * d.S, T(0));
        continue;
      }
      T sum = 0;
      for (int64_t s = 0; s < d.S; ++s) sum += (row[s] = std::exp(row[s] - mx));
      for (int64_t s = 0; s < d.S; ++s) row[s] /= sum;
      if (drop.p > 0)
        for (int64_t s = 0; s < d.S; ++s) Pd[r * d.S + s] = row[s] * drop.z<T>(r, s, d);
    }
  });
  for (int64_t bh = 0; bh < d.B * d.Hq; ++bh) {
    const int64_t kvh = (bh / d.Hq) * d.Hkv + (bh % d.Hq) / group;
    gemm(false, false, d.T, d.Dv, d.S, T(1), (drop.p > 0 ? Pd : P) + bh * d.T * d.S, d.S, v + kvh * d.S * d.Dv,
         d.Dv, T(0), out + bh * d.T * d.Dv, d.Dv);
  }
}

// Backward from the saved P: dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP - rowsum(P ∘ dP)), dQ = scale dS K,
// dK = scale dSᵀ Q; kv heads sum over their query group. dS overwrites a fresh [B, Hq, T, S] buffer.
// With dropout (Pd = Z ∘ P): dV = Pdᵀ dO and dP = Z ∘ (dO Vᵀ).
template <class T>
void reference_backward(const detail::AttentionDims& d, const RefDropout& drop, const T* q, const T* k, const T* v,
                        const T* P, const T* Pd, const T* dout, T* dS, T* dq, T* dk, T* dv) {
  const int64_t group = d.Hq / d.Hkv;
  const T scale = static_cast<T>(d.scale);
  std::fill(dk, dk + d.B * d.Hkv * d.S * d.D, T(0));
  std::fill(dv, dv + d.B * d.Hkv * d.S * d.Dv, T(0));
  for (int64_t bh = 0; bh < d.B * d.Hq; ++bh) {
    const int64_t kvh = (bh / d.Hq) * d.Hkv + (bh % d.Hq) / group;
    const T* dO = dout + bh * d.T * d.Dv;
    gemm(false, true, d.T, d.S, d.Dv, T(1), dO, d.Dv, v + kvh * d.S * d.Dv, d.Dv, T(0), dS + bh * d.T * d.S, d.S);
    gemm(true, false, d.S, d.Dv, d.T, T(1), (drop.p > 0 ? Pd : P) + bh * d.T * d.S, d.S, dO, d.Dv, T(1),
         dv + kvh * d.S * d.Dv, d.Dv);
  }
  parallel_for(d.B * d.Hq * d.T, std::max<int64_t>(16, 65536 / std::max<int64_t>(d.S, 1)), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* p = P + r * d.S;
      T* g = dS + r * d.S;
      if (drop.p > 0)
        for (int64_t s = 0; s < d.S; ++s) g[s] *= drop.z<T>(r, s, d);
      T dot = 0;
      for (int64_t s = 0; s < d.S; ++s) dot += p[s] * g[s];
      for (int64_t s = 0; s < d.S; ++s) g[s] = p[s] * (g[s] - dot);
    }
  });
  for (int64_t bh = 0; bh < d.B * d.Hq; ++bh) {
    const int64_t kvh = (bh / d.Hq) * d.Hkv + (bh % d.Hq) / group;
    const T* ds = dS + bh * d.T * d.S;
    gemm(false, false, d.T, d.D, d.S, scale, ds, d.S, k + kvh * d.S * d.D, d.D, T(0), dq + bh * d.T * d.D, d.D);
    gemm(true, false, d.S, d.D, d.T, scale, ds, d.S, q + bh * d.T * d.D, d.D, T(1), dk + kvh * d.S * d.D, d.D);
  }
}

Tensor contiguous_data(const Tensor& x) { return x.is_contiguous() ? x.detach() : x.contiguous_copy(); }

}  // namespace

Tensor attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  constexpr const char* op = "attention_reference";
  const detail::AttentionDims d = detail::check_attention_args(q, k, v, opt, op);
  const Tensor mask = opt.mask.defined() ? opt.mask.detach() : Tensor();
  const Tensor qc = contiguous_data(q), kc = contiguous_data(k), vc = contiguous_data(v);
  const RefDropout drop{opt.dropout_p, opt.dropout_seed};
  Tensor P = Tensor::empty({d.B, d.Hq, d.T, d.S}, q.dtype());
  const Tensor Pd = drop.p > 0 ? Tensor::empty(P.shape(), q.dtype()) : P;
  Tensor out = Tensor::empty({d.B, d.Hq, d.T, d.Dv}, q.dtype());
  XF_DISPATCH_FLOAT(q.dtype(), op, [&] {
    reference_forward<scalar_t>(d, opt.causal, drop, qc.data<scalar_t>(), kc.data<scalar_t>(), vc.data<scalar_t>(),
                                mask.defined() ? mask.data<scalar_t>() : nullptr, P.data<scalar_t>(),
                                Pd.data<scalar_t>(), out.data<scalar_t>());
  });
  if (needs_grad(q, k, v)) {
    record(op, out, {&q, &k, &v}, [qc, kc, vc, P, Pd, d, drop](const Tensor& g, GradSlots& gs) {
      const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
      Tensor dS = Tensor::empty(P.shape(), P.dtype());
      Tensor dq = Tensor::empty(qc.shape(), qc.dtype());
      Tensor dk = Tensor::empty(kc.shape(), kc.dtype());
      Tensor dv = Tensor::empty(vc.shape(), vc.dtype());
      XF_DISPATCH_FLOAT(qc.dtype(), "attention_reference backward", [&] {
        reference_backward<scalar_t>(d, drop, qc.data<scalar_t>(), kc.data<scalar_t>(), vc.data<scalar_t>(),
                                     P.data<scalar_t>(), Pd.data<scalar_t>(), gc.data<scalar_t>(), dS.data<scalar_t>(),
                                     dq.data<scalar_t>(), dk.data<scalar_t>(), dv.data<scalar_t>());
      });
      if (gs.needed[0]) gs.g[0] = dq;
      if (gs.needed[1]) gs.g[1] = dk;
      if (gs.needed[2]) gs.g[2] = dv;
    });
  }
  return out;
}

}  // namespace xfmr
