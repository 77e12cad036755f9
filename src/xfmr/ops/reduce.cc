#include "xfmr/ops/reduce.h"

#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/strided.h"
#include "xfmr/kernels/cpu/loops.h"
#include "xfmr/kernels/cpu/reduce.h"
#include "xfmr/ops/view.h"

namespace xfmr {

namespace {

// Which dims of x a reduction removes, and the resulting shapes.
struct Reduction {
  bool mask[kMaxRank] = {};
  Shape keep_shape;  // reduced dims as extent 1
  Shape out_shape;   // keep_shape, or without the reduced dims unless keepdim
  int64_t n = 1;     // reduced elements per output element
};

Reduction plan_reduction(const Tensor& x, const Shape& dims, bool keepdim, const char* op) {
  Reduction r;
  const int rank = x.dim();
  if (dims.empty()) {
    for (int d = 0; d < rank; ++d) r.mask[d] = true;
  } else {
    for (int i = 0; i < dims.size(); ++i) {
      const int d = wrap_dim(static_cast<int>(dims[i]), rank, op);
      if (rank == 0) continue;  // torch accepts dim 0 / -1 on a 0-d tensor
      XF_CHECK(!r.mask[d], op, ": dimension ", d, " repeated in dims ", dims.str(), " for shape ",
               x.shape().str());
      r.mask[d] = true;
    }
  }
  for (int d = 0; d < rank; ++d) {
    r.keep_shape.push_back(r.mask[d] ? 1 : x.size(d));
    if (r.mask[d]) r.n *= x.size(d);
    if (!r.mask[d] || keepdim) r.out_shape.push_back(r.mask[d] ? 1 : x.size(d));
  }
  return r;
}

// Views contiguous x as [A, K, C] with the reduced dims forming K, if they are one run (ignoring extents of
// 1).
bool as_akc(const Shape& shape, const bool* mask, int64_t& A, int64_t& K, int64_t& C) {
  A = K = C = 1;
  int state = 0;  // 0: before the reduced run, 1: inside it, 2: after it
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (mask[d]) {
      if (state == 2) return false;
      state = 1;
      K *= shape[d];
    } else if (state == 0) {
      A *= shape[d];
    } else {
      state = 2;
      C *= shape[d];
    }
  }
  return true;
}

// Sum of x over r's dims into a fresh contiguous tensor of r.keep_shape (no autograd).
Tensor sum_raw(const Tensor& x, const Reduction& r, const char* op) {
  Tensor out = Tensor::empty(r.keep_shape, x.dtype());
  XF_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    int64_t A, K, C;
    if (x.numel() == 0) {
      out.zero_();
    } else if (x.is_contiguous() && as_akc(x.shape(), r.mask, A, K, C)) {
      kernels::sum_akc<T>(x.data<T>(), A, K, C, out.data<T>());
    } else if (as_akc(x.shape(), r.mask, A, K, C) && x.numel() >= kernels::kReduceGrain) {
      const Tensor xc = x.contiguous_copy();  // a copy is cheaper than the strided walk for big inputs
      kernels::sum_akc<T>(xc.data<T>(), A, K, C, out.data<T>());
    } else {
      // Generic: accumulate through out viewed with stride 0 along the reduced dims.
      out.zero_();
      const Strides ost = broadcast_strides(out, x.shape());
      T* o = out.data<T>();
      const T* s = x.data<T>();
      for_each_offset<2>(x.shape(), {ost, x.strides()}, {0, 0},
                         [&](int64_t oo, int64_t os) { o[oo] += s[os]; });
    }
  });
  return out;
}

// g (shape r.out_shape) broadcast back to `shape` as a fresh contiguous tensor, times `scale`.
Tensor expand_grad(const Tensor& g, const Reduction& r, const Shape& shape, double scale) {
  const Tensor gk = g.shape() == r.keep_shape ? g : reshape(g, r.keep_shape);
  Tensor out = Tensor::empty(shape, g.dtype());
  if (out.numel() == 0) return out;
  XF_DISPATCH_FLOAT(g.dtype(), "sum", [&] {
    using T = scalar_t;
    if (scale == 1.0)
      kernels::unary<T>(out, gk, [](T v) { return v; });
    else
      kernels::unary<T>(out, gk, [s = static_cast<T>(scale)](T v) { return v * s; });
  });
  return out;
}

Tensor sum_impl(const Tensor& x, const Shape& dims, bool keepdim, bool is_mean) {
  const char* op = is_mean ? "mean" : "sum";
  check_float(x, op);
  const Reduction r = plan_reduction(x, dims, keepdim, op);
  Tensor out = sum_raw(x, r, op);
  if (is_mean) {
    // torch divides the sum by N (0/0 = nan for an empty reduction).
    XF_DISPATCH_FLOAT(x.dtype(), op, [&] {
      using T = scalar_t;
      T* p = out.data<T>();
      const T n = static_cast<T>(r.n);
      for (int64_t i = 0, m = out.numel(); i < m; ++i) p[i] /= n;
    });
  }
  if (out.shape() != r.out_shape) out = out.as_strided(r.out_shape, contiguous_strides(r.out_shape), 0);
  if (needs_grad(x)) {
    record(op, out, {&x}, [r, in_shape = x.shape(), is_mean](const Tensor& g, GradSlots& gs) {
      gs.g[0] = expand_grad(g, r, in_shape, is_mean ? 1.0 / static_cast<double>(r.n) : 1.0);
    });
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) {
  return sum_impl(x, Shape{}, false, false);
}
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, false);
}
Tensor mean(const Tensor& x) {
  return sum_impl(x, Shape{}, false, true);
}
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  return sum_impl(x, dims, keepdim, true);
}

Tensor max(const Tensor& x, int dim, bool keepdim) {
  return max(x, dim, keepdim, nullptr);
}

Tensor max(const Tensor& x, int dim, bool keepdim, Tensor* indices) {
  check_float(x, "max");
  const int d = wrap_dim(dim, x.dim(), "max");  // a 0-d tensor accepts dim 0 / -1, as in torch
  const Reduction r = plan_reduction(x, x.dim() == 0 ? Shape{} : Shape{d}, keepdim, "max");
  const int64_t K = x.dim() == 0 ? 1 : x.size(d);
  XF_CHECK(K > 0, "max: cannot reduce dimension ", d, " of size 0 in shape ", x.shape().str());
  int64_t A = 1, C = 1;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < d) A *= x.size(i);
    if (i > d) C *= x.size(i);
  }
  const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
  Tensor out = Tensor::empty(r.out_shape, x.dtype());
  Tensor idx = Tensor::empty(r.out_shape, DType::i64);
  XF_DISPATCH_FLOAT(x.dtype(), "max", [&] {
    if (out.numel() > 0)
      kernels::max_akc(xc.data<scalar_t>(), A, K, C, out.data<scalar_t>(), idx.data<int64_t>());
  });
  if (indices) *indices = idx;
  if (needs_grad(x)) {
    record("max", out, {&x}, [idx, in_shape = x.shape(), A, K, C](const Tensor& g, GradSlots& gs) {
      Tensor gx = Tensor::zeros(in_shape, g.dtype());
      const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
      const int64_t* ip = idx.data<int64_t>();
      XF_DISPATCH_FLOAT(g.dtype(), "max", [&] {
        scalar_t* o = gx.data<scalar_t>();
        const scalar_t* s = gc.data<scalar_t>();
        for (int64_t a = 0; a < A; ++a)
          for (int64_t c = 0; c < C; ++c) o[(a * K + ip[a * C + c]) * C + c] = s[a * C + c];
      });
      gs.g[0] = gx;
    });
  }
  return out;
}

Tensor var(const Tensor& x, const Shape& dims, bool keepdim, int64_t correction) {
  check_float(x, "var");
  const Reduction r = plan_reduction(x, dims, keepdim, "var");
  // Two passes (mean, then squared deviations) for accuracy; the deviations are kept for the backward.
  const double denom = std::max<double>(0.0, static_cast<double>(r.n - correction));
  Tensor diff = Tensor::empty(x.shape(), x.dtype());
  Tensor out;
  XF_DISPATCH_FLOAT(x.dtype(), "var", [&] {
    using T = scalar_t;
    Tensor m = sum_raw(x, r, "var");
    T* mp = m.data<T>();
    for (int64_t i = 0, n = m.numel(); i < n; ++i) mp[i] /= static_cast<T>(r.n);
    if (diff.numel() > 0) kernels::binary<T>(diff, x, m, [](T a, T b) { return a - b; });
    Tensor sq = Tensor::empty(x.shape(), x.dtype());
    if (sq.numel() > 0) kernels::unary<T>(sq, diff, [](T v) { return v * v; });
    out = sum_raw(sq, r, "var");
    T* op = out.data<T>();
    for (int64_t i = 0, n = out.numel(); i < n; ++i) op[i] /= static_cast<T>(denom);
  });
  if (out.shape() != r.out_shape) out = out.as_strided(r.out_shape, contiguous_strides(r.out_shape), 0);
  if (needs_grad(x)) {
    // d var / dx = 2 (x - mean) / (N - correction); the mean's own dependence on x cancels (sum of deviations
    // = 0).
    record("var", out, {&x}, [r, diff, denom](const Tensor& g, GradSlots& gs) {
      const Tensor gk = g.shape() == r.keep_shape ? g : reshape(g, r.keep_shape);
      Tensor gx = Tensor::empty(diff.shape(), diff.dtype());
      if (gx.numel() > 0) {
        XF_DISPATCH_FLOAT(g.dtype(), "var", [&] {
          using T = scalar_t;
          const T s = static_cast<T>(2.0 / denom);
          kernels::binary<T>(gx, gk, diff, [s](T gv, T dv) { return s * gv * dv; });
        });
      }
      gs.g[0] = gx;
    });
  }
  return out;
}

Tensor reduce_sum_to(const Tensor& g, const Shape& shape) {
  check_defined(g, "sum_to");
  if (g.shape() == shape) return g;
  const int lead = g.dim() - shape.size();
  XF_CHECK(lead >= 0, "sum_to: cannot reduce ", g.shape().str(), " to the larger rank ", shape.str());
  Shape dims;
  for (int i = 0; i < g.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else {
      XF_CHECK(shape[i - lead] == g.size(i) || shape[i - lead] == 1, "sum_to: shape ", shape.str(),
               " does not broadcast to ", g.shape().str());
      if (shape[i - lead] == 1 && g.size(i) != 1) dims.push_back(i);
    }
  }
  if (dims.empty()) return reshape(g, shape);
  return reshape(sum(g, dims, true), shape);
}

}  // namespace xfmr
