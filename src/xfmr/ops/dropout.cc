#include "xfmr/ops/dropout.h"

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"

namespace xfmr {

namespace {
constexpr int64_t kGrain = 1 << 15;

// a * b for b contiguous of a's shape (a, an upstream gradient, may be strided: it is made contiguous).
Tensor mul_contiguous(const Tensor& a, const Tensor& b) {
  const Tensor ac = a.is_contiguous() ? a : a.contiguous_copy();
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  XF_DISPATCH_FLOAT(a.dtype(), "dropout", [&] {
    const scalar_t* pa = ac.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    parallel_for(out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = pa[i] * pb[i];
    });
  });
  return out;
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_float(x, "dropout");
  XF_CHECK(p >= 0.0 && p < 1.0, "dropout: p must lie in [0, 1), got ", p, " (input shape ", x.shape().str(),
           ")");
  if (!training || p == 0.0) return x;
  // mask = keep / (1 - p), stored in x's dtype: the forward and the backward are the same product.
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  bernoulli_(mask, 1.0 - p, gen);
  const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  XF_DISPATCH_FLOAT(x.dtype(), "dropout", [&] {
    scalar_t* m = mask.data<scalar_t>();
    const scalar_t* px = xc.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    const scalar_t scale = static_cast<scalar_t>(1.0 / (1.0 - p));
    parallel_for(mask.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        m[i] *= scale;
        po[i] = px[i] * m[i];
      }
    });
  });
  if (needs_grad(x)) {
    record("dropout", out, {&x},
           [mask](const Tensor& g, GradSlots& gs) { gs.g[0] = mul_contiguous(g, mask); });
  }
  return out;
}

}  // namespace xfmr
