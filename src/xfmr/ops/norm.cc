#include "xfmr/ops/norm.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/norm.h"

namespace xfmr {

namespace {

// Row blocks for the weight/bias gradient: a fixed count (independent of the thread count) so the partial sums,
// and hence the result, are the same for any number of threads.
constexpr int64_t kGradBlocks = 32;

struct NormDims {
  int64_t rows = 0, C = 0;
  double eps = 0;
  bool center = true;  // LayerNorm subtracts the mean; RMSNorm does not
};

int64_t row_grain(int64_t C) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, C)); }

// x, y: [rows, C]; w, b: [C]; mean, rstd: [rows]
template <class T>
void norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, const NormDims& d) {
  const int64_t C = d.C;
  parallel_for(d.rows, row_grain(C), [&](int64_t r0, int64_t r1) {
    kernels::cpu::norm_rows_forward(x + r0 * C, w, b, y + r0 * C, r1 - r0, C, d.eps, d.center, mean + r0,
                                    rstd + r0);
  });
}

// dx per row (kernels/cpu/norm.h; dx_add + it when dx_add is given); dw = Σ_rows g·x̂, db = Σ_rows g as pw/pb:
// [nblocks, C] partial sums over fixed row blocks (null when not needed).
template <class T>
void norm_backward(const T* x, const T* g, const T* w, const T* mean, const T* rstd, T* dx, const T* dx_add,
                   double* pw, double* pb, int64_t nblocks, const NormDims& d) {
  const int64_t C = d.C, rows = d.rows;
  const int64_t grain = rows * C < (1 << 19) ? nblocks : 1;
  parallel_for(nblocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      double* bw = pw ? pw + blk * C : nullptr;
      double* bb = pb ? pb + blk * C : nullptr;
      const int64_t r = rows * blk / nblocks, r_end = rows * (blk + 1) / nblocks;
      kernels::cpu::norm_rows_backward(x + r * C, g + r * C, w, mean + r, rstd + r, r_end - r, C, d.center,
                                       dx ? dx + r * C : nullptr, bw, bb, dx_add ? dx_add + r * C : nullptr);
    }
  });
}

// Sums the nblocks partial rows of p ([nblocks, C] f64) into a new [C] tensor of dtype dt.
Tensor reduce_blocks(const Tensor& p, int64_t nblocks, int64_t C, DType dt) {
  Tensor out = Tensor::empty({C}, dt);
  XF_DISPATCH_FLOAT(dt, "norm", [&] {
    const double* pp = p.data<double>();
    scalar_t* po = out.data<scalar_t>();
    for (int64_t c = 0; c < C; ++c) {
      double s = 0;
      for (int64_t b = 0; b < nblocks; ++b) s += pp[b * C + c];
      po[c] = static_cast<scalar_t>(s);
    }
  });
  return out;
}

// A [C] parameter as a contiguous tensor, or a constant when it is undefined.
Tensor param_or(const Tensor& p, int64_t C, double fill, DType dt) {
  if (!p.defined()) return Tensor::full({C}, fill, dt);
  return p.is_contiguous() ? p : p.contiguous_copy();
}

void check_param(const Tensor& x, const Tensor& p, const char* what, const char* op) {
  if (!p.defined()) return;
  XF_CHECK(p.dtype() == x.dtype(), op, ": ", what, " dtype ", dtype_name(p.dtype()), " differs from input dtype ",
           dtype_name(x.dtype()));
  XF_CHECK(p.dim() == 1 && p.size(0) == x.size(-1), op, ": ", what, " ", p.shape().str(),
           " does not match the last dim of input ", x.shape().str(), " (expected [", x.size(-1), "])");
}

Tensor norm_op(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, bool center) {
  check_float(x, op);
  XF_CHECK(x.dim() >= 1, op, ": input must have rank >= 1, got ", x.shape().str());
  check_param(x, weight, "weight", op);
  check_param(x, bias, "bias", op);
  XF_CHECK(eps >= 0, op, ": eps must be >= 0, got ", eps);
  NormDims d;
  d.C = x.size(-1);
  d.rows = d.C == 0 ? 0 : x.numel() / d.C;
  d.eps = eps;
  d.center = center;
  const DType dt = x.dtype();
  const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
  const Tensor w = param_or(weight, d.C, 1.0, dt), b = param_or(bias, d.C, 0.0, dt);
  Tensor y = Tensor::empty(x.shape(), dt);
  Tensor mean = Tensor::empty({d.rows}, dt), rstd = Tensor::empty({d.rows}, dt);
  XF_DISPATCH_FLOAT(dt, op, [&] {
    norm_forward(xc.data<scalar_t>(), w.data<scalar_t>(), b.data<scalar_t>(), y.data<scalar_t>(),
                 mean.data<scalar_t>(), rstd.data<scalar_t>(), d);
  });
  if (needs_grad(x, weight, bias)) {
    record(op, y, {&x, &weight, &bias},
           [xc = xc.detach(), w = w.detach(), mean, rstd, d, op](const Tensor& g, GradSlots& gs) {
             const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
             const int64_t nblocks = std::max<int64_t>(1, std::min<int64_t>(d.rows, kGradBlocks));
             Tensor dx = gs.needed[0] ? Tensor::empty(xc.shape(), g.dtype()) : Tensor();
             // x's gradient from its other consumers (the residual branch of a pre-LN block) joins dx in the
             // same pass (GradSlots::pending).
             const Tensor& pend = gs.pending[0];
             const bool fold = dx.defined() && pend.defined() && pend.is_contiguous() && pend.dtype() == g.dtype() &&
                               pend.shape() == xc.shape();
             Tensor pw = gs.needed[1] ? Tensor::zeros({nblocks, d.C}, DType::f64) : Tensor();
             Tensor pb = gs.needed[2] ? Tensor::zeros({nblocks, d.C}, DType::f64) : Tensor();
             XF_DISPATCH_FLOAT(g.dtype(), op, [&] {
               norm_backward(xc.data<scalar_t>(), gc.data<scalar_t>(), w.data<scalar_t>(), mean.data<scalar_t>(),
                             rstd.data<scalar_t>(), dx.defined() ? dx.data<scalar_t>() : nullptr,
                             fold ? pend.data<scalar_t>() : nullptr, pw.defined() ? pw.data<double>() : nullptr, pb.defined() ? pb.data<double>() : nullptr,
                             nblocks, d);
             });
             if (gs.needed[0]) gs.g[0] = dx;
             gs.summed[0] = fold;
             if (gs.needed[1]) gs.g[1] = reduce_blocks(pw, nblocks, d.C, g.dtype());
             if (gs.needed[2]) gs.g[2] = reduce_blocks(pb, nblocks, d.C, g.dtype());
           });
  }
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return norm_op("layer_norm", x, weight, bias, eps, true);
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  return norm_op("rms_norm", x, weight, Tensor(), eps, false);
}

}  // namespace xfmr
