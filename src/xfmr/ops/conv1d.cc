#include "xfmr/ops/conv1d.h"

#include <algorithm>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

namespace {

struct ConvDims {
  int64_t B, T, C, K;
};

// Channels per work item in the weight/bias gradient: enough to vectorise, and each block is reduced by one
// thread only, so the sums over (b, t) need no atomics and do not depend on the thread count.
constexpr int64_t kChannelBlock = 64;

Tensor contiguous_data(const Tensor& x) { return x.is_contiguous() ? x.detach() : x.contiguous_copy(); }

// wt[j, c] = w[c, j]: taps-major so the inner loops run over contiguous channels.
template <class T>
void transpose_taps(const T* w, T* wt, int64_t C, int64_t K) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t j = 0; j < K; ++j) wt[j * C + c] = w[c * K + j];
}

template <class T>
void conv_forward(const ConvDims& d, const T* x, const T* wt, const T* bias, T* y) {
  parallel_for(d.B * d.T, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t t = r % d.T;
      T* yr = y + r * d.C;
      if (bias)
        std::copy(bias, bias + d.C, yr);
      else
        std::fill(yr, yr + d.C, T(0));
      // tap j reads step t - K + 1 + j; taps before the first step read the zero padding.
      for (int64_t j = std::max<int64_t>(0, d.K - 1 - t); j < d.K; ++j) {
        const T* xr = x + (r - (d.K - 1 - j)) * d.C;
        const T* wj = wt + j * d.C;
        for (int64_t c = 0; c < d.C; ++c) yr[c] += wj[c] * xr[c];
      }
    }
  });
}

// dx[b, s, c] = sum_j w[c, j] dy[b, s + K - 1 - j, c];  dw[c, j] = sum_{b,t} dy[b, t, c] x[b, t - K + 1 + j, c];
// db[c] = sum_{b,t} dy[b, t, c].  dwt is [K, C] (taps-major), transposed by the caller.
template <class T>
void conv_backward(const ConvDims& d, const T* x, const T* wt, const T* dy, T* dx, T* dwt, T* db) {
  if (dx) {
    parallel_for(d.B * d.T, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t s = r % d.T;
        T* dxr = dx + r * d.C;
        std::fill(dxr, dxr + d.C, T(0));
        for (int64_t j = 0; j < d.K; ++j) {
          const int64_t t = s + d.K - 1 - j;
          if (t >= d.T) continue;
          const T* dyr = dy + (r + d.K - 1 - j) * d.C;
          const T* wj = wt + j * d.C;
          for (int64_t c = 0; c < d.C; ++c) dxr[c] += wj[c] * dyr[c];
        }
      }
    });
  }
  if (!dwt && !db) return;
  const int64_t nblocks = (d.C + kChannelBlock - 1) / kChannelBlock;
  parallel_for(nblocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t c0 = blk * kChannelBlock, c1 = std::min(d.C, c0 + kChannelBlock);
      if (dwt)
        for (int64_t j = 0; j < d.K; ++j) std::fill(dwt + j * d.C + c0, dwt + j * d.C + c1, T(0));
      if (db) std::fill(db + c0, db + c1, T(0));
      for (int64_t b = 0; b < d.B; ++b) {
        for (int64_t t = 0; t < d.T; ++t) {
          const T* dyr = dy + (b * d.T + t) * d.C;
          if (db)
            for (int64_t c = c0; c < c1; ++c) db[c] += dyr[c];
          if (!dwt) continue;
          for (int64_t j = std::max<int64_t>(0, d.K - 1 - t); j < d.K; ++j) {
            const T* xr = x + (b * d.T + t - (d.K - 1 - j)) * d.C;
            T* dwj = dwt + j * d.C;
            for (int64_t c = c0; c < c1; ++c) dwj[c] += dyr[c] * xr[c];
          }
        }
      }
    }
  });
}

}  // namespace

Tensor causal_depthwise_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  constexpr const char* op = "causal_depthwise_conv1d";
  check_float(x, op);
  check_same_dtype(x, weight, op);
  XF_CHECK(x.dim() == 3, op, ": expected x [B, T, C], got ", x.shape().str());
  XF_CHECK(weight.dim() == 2 && weight.size(0) == x.size(2) && weight.size(1) >= 1, op,
           ": expected weight [C, K] with C = ", x.size(2), " and K >= 1, got weight ", weight.shape().str(),
           " for x ", x.shape().str());
  const bool has_bias = bias.defined();
  if (has_bias) {
    check_same_dtype(x, bias, op);
    XF_CHECK(bias.dim() == 1 && bias.size(0) == x.size(2), op, ": expected bias [C] with C = ", x.size(2),
             ", got bias ", bias.shape().str(), " for x ", x.shape().str());
  }
  const ConvDims d{x.size(0), x.size(1), x.size(2), weight.size(1)};
  const Tensor xc = contiguous_data(x), wc = contiguous_data(weight);
  const Tensor bc = has_bias ? contiguous_data(bias) : Tensor();
  Tensor wt = Tensor::empty({d.K, d.C}, x.dtype());
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  XF_DISPATCH_FLOAT(x.dtype(), op, [&] {
    transpose_taps(wc.data<scalar_t>(), wt.data<scalar_t>(), d.C, d.K);
    conv_forward<scalar_t>(d, xc.data<scalar_t>(), wt.data<scalar_t>(), has_bias ? bc.data<scalar_t>() : nullptr,
                           y.data<scalar_t>());
  });
  if (needs_grad(x, weight, bias)) {
    record(op, y, {&x, &weight, &bias}, [xc, wt, d, has_bias](const Tensor& g, GradSlots& gs) {
      const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
      const DType dt = xc.dtype();
      Tensor dx = gs.needed[0] ? Tensor::empty({d.B, d.T, d.C}, dt) : Tensor();
      Tensor dwt = gs.needed[1] ? Tensor::empty({d.K, d.C}, dt) : Tensor();
      Tensor db = has_bias && gs.needed[2] ? Tensor::empty({d.C}, dt) : Tensor();
      XF_DISPATCH_FLOAT(dt, "causal_depthwise_conv1d backward", [&] {
        conv_backward<scalar_t>(d, xc.data<scalar_t>(), wt.data<scalar_t>(), gc.data<scalar_t>(),
                                dx.defined() ? dx.data<scalar_t>() : nullptr,
                                dwt.defined() ? dwt.data<scalar_t>() : nullptr,
                                db.defined() ? db.data<scalar_t>() : nullptr);
        if (dwt.defined()) {
          Tensor dw = Tensor::empty({d.C, d.K}, dt);
          transpose_taps(dwt.data<scalar_t>(), dw.data<scalar_t>(), d.K, d.C);  // [K, C] -> [C, K]
          gs.g[1] = dw;
        }
      });
      if (dx.defined()) gs.g[0] = dx;
      if (db.defined()) gs.g[2] = db;
    });
  }
  return y;
}

}  // namespace xfmr
