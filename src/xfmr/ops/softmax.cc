#include "xfmr/ops/softmax.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/autograd.h"
#include "xfmr/core/parallel.h"
#include "xfmr/kernels/cpu/rowsum.h"
#include "xfmr/kernels/cpu/vmath.h"

namespace xfmr {

namespace {

// A contiguous tensor seen as [outer, n, inner] around the softmax dim; element (o, j, i) is at
// o·n·inner + j·inner + i. Each (o, i) is one independent "line" of n elements with stride `inner`.
struct Lines {
  int64_t outer = 1, n = 1, inner = 1;
  int64_t count() const { return outer * inner; }
  int64_t base(int64_t line) const { return (line / inner) * n * inner + line % inner; }
};

Lines lines_of(const Shape& s, int d) {
  Lines l;
  for (int i = 0; i < d; ++i) l.outer *= s[i];
  l.n = s[d];
  for (int i = d + 1; i < s.size(); ++i) l.inner *= s[i];
  return l;
}

int64_t line_grain(int64_t n) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, n)); }

template <class T, bool LOG>
void softmax_forward(const T* x, T* y, const Lines& l) {
  const int64_t n = l.n, st = l.inner;
  if (n == 0) return;
  parallel_for(l.count(), line_grain(n), [&](int64_t a, int64_t b) {
    for (int64_t line = a; line < b; ++line) {
      const int64_t o = l.base(line);
      const T* xr = x + o;
      T* yr = y + o;
      if (st == 1) {  // fast path: a contiguous row
        const T m = kern::row_max(xr, n);
        if constexpr (LOG) {
          // (x - m) - log Σ, not x - (m + log Σ): m + log Σ would round at the magnitude of m
          const T ls = static_cast<T>(std::log(kern::row_exp_sum(xr, m, n)));
          for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - m) - ls;
        } else {
          // exp into y, then normalise by the sum of the values actually stored
          for (int64_t j = 0; j < n; ++j) yr[j] = vmath::exp(xr[j] - m);
          const T inv = static_cast<T>(1.0 / kern::row_sum(yr, n));
          for (int64_t j = 0; j < n; ++j) yr[j] *= inv;
        }
      } else {
        T m = xr[0];
        for (int64_t j = 1; j < n; ++j) m = std::max(m, xr[j * st]);
        double s = 0;
        for (int64_t j = 0; j < n; ++j) s += static_cast<double>(vmath::exp(xr[j * st] - m));
        if constexpr (LOG) {
          const T ls = static_cast<T>(std::log(s));
          for (int64_t j = 0; j < n; ++j) yr[j * st] = xr[j * st] - m - ls;
        } else {
          const T inv = static_cast<T>(1.0 / s);
          for (int64_t j = 0; j < n; ++j) yr[j * st] = vmath::exp(xr[j * st] - m) * inv;
        }
      }
    }
  });
}

template <class T, bool LOG>
void softmax_backward(const T* y, const T* g, T* dx, const Lines& l) {
  const int64_t n = l.n, st = l.inner;
  if (n == 0) return;
  parallel_for(l.count(), line_grain(n), [&](int64_t a, int64_t b) {
    for (int64_t line = a; line < b; ++line) {
      const int64_t o = l.base(line);
      const T* yr = y + o;
      const T* gr = g + o;
      T* dr = dx + o;
      if (st == 1) {
        if constexpr (LOG) {
          const T s = static_cast<T>(kern::row_sum(gr, n));
          for (int64_t j = 0; j < n; ++j) dr[j] = gr[j] - vmath::exp(yr[j]) * s;
        } else {
          const T s = static_cast<T>(kern::row_dot(gr, yr, n));
          for (int64_t j = 0; j < n; ++j) dr[j] = yr[j] * (gr[j] - s);
        }
      } else {
        double acc = 0;
        for (int64_t j = 0; j < n; ++j)
          acc += LOG ? static_cast<double>(gr[j * st]) : static_cast<double>(gr[j * st]) * yr[j * st];
        const T s = static_cast<T>(acc);
        for (int64_t j = 0; j < n; ++j) {
          const int64_t k = j * st;
          dr[k] = LOG ? gr[k] - vmath::exp(yr[k]) * s : yr[k] * (gr[k] - s);
        }
      }
    }
  });
}

template <bool LOG>
Tensor softmax_op(const char* op, const Tensor& x, int dim) {
  check_float(x, op);
  const int d = wrap_dim(dim, std::max(1, x.dim()), op);
  const Tensor xc = x.is_contiguous() ? x : x.contiguous_copy();
  const Lines l = x.dim() == 0 ? Lines{} : lines_of(x.shape(), d);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  XF_DISPATCH_FLOAT(x.dtype(), op, [&] { softmax_forward<scalar_t, LOG>(xc.data<scalar_t>(), y.data<scalar_t>(), l); });
  if (needs_grad(x)) {
    record(op, y, {&x}, [y = y.detach(), l, op](const Tensor& g, GradSlots& gs) {
      const Tensor gc = g.is_contiguous() ? g : g.contiguous_copy();
      Tensor dx = Tensor::empty(y.shape(), y.dtype());
      XF_DISPATCH_FLOAT(y.dtype(), op, [&] {
        softmax_backward<scalar_t, LOG>(y.data<scalar_t>(), gc.data<scalar_t>(), dx.data<scalar_t>(), l);
      });
      gs.g[0] = dx;
    });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int dim) { return softmax_op<false>("softmax", x, dim); }
Tensor log_softmax(const Tensor& x, int dim) { return softmax_op<true>("log_softmax", x, dim); }

}  // namespace xfmr
